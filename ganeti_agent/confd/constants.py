"""confd's numbers, as Ganeti 3.0.2 defines them (spec/confd.md section 1)."""

from __future__ import annotations

import enum

DEFAULT_PORT = 1814
MAGIC = b"plj0"
PROTOCOL_VERSION = 1
NODE_MAX_CLOCK_SKEW = 150
#: The request timestamp window: twice the node skew, not the 2.5 minutes often quoted.
MAX_CLOCK_SKEW = 2 * NODE_MAX_CLOCK_SKEW
CONFIG_RELOAD_TIMEOUT = 17.0
CONFIG_RELOAD_RATELIMIT = 0.25
DEFAULT_REQ_COVERAGE = 6
CLIENT_EXPIRE_TIMEOUT = 10.0
#: What Ganeti's Python client sends at most and receives into; larger replies break it.
MAX_UDP_DATA_SIZE = 61440
#: The real server reads at most this much of a datagram; longer requests are dropped.
MAX_REQUEST_SIZE = 4096


class RequestType(enum.IntEnum):
    """``CONFD_REQ_*``."""

    PING = 0
    NODE_ROLE_BYNAME = 1
    NODE_PIP_BY_INSTANCE_IP = 2
    CLUSTER_MASTER = 3
    NODE_PIP_LIST = 4
    MC_PIP_LIST = 5
    INSTANCES_IPS_LIST = 6
    NODE_DRBD = 7
    NODE_INSTANCES = 8
    INSTANCE_DISKS = 9
    CONFIG_QUERY = 10
    DATA_COLLECTORS = 11


class QueryKey(enum.StrEnum):
    """``CONFD_REQQ_*``: the keys of a dictionary query."""

    LINK = "0"
    IP = "1"
    IPLIST = "2"
    FIELDS = "3"


class RequestField(enum.IntEnum):
    """``CONFD_REQFIELD_*``: what CLUSTER_MASTER returns per selector."""

    NAME = 0
    IP = 1
    MNODE_PIP = 2


class ReplyStatus(enum.IntEnum):
    """``CONFD_REPL_STATUS_*``."""

    OK = 0
    ERROR = 1
    NOTIMPLEMENTED = 2


class ErrorCode(enum.IntEnum):
    """``CONFD_ERROR_*``: the structured error answers."""

    UNKNOWN_ENTRY = 0
    INTERNAL = 1
    ARGUMENT = 2


class NodeRole(enum.IntEnum):
    """``CONFD_NODE_ROLE_*``."""

    MASTER = 0
    CANDIDATE = 1
    OFFLINE = 2
    DRAINED = 3
    REGULAR = 4


#: Types Ganeti's Python client agrees to send (NODE_INSTANCES is left out on purpose).
PYTHON_CLIENT_REQUESTS = frozenset(RequestType) - {RequestType.NODE_INSTANCES}
