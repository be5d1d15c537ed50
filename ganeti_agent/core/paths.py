"""Where Ganeti keeps its files on a node, honouring ``GANETI_ROOTDIR``.

Ganeti's virtual-cluster mechanism prefixes ``/var/lib/ganeti``, ``/var/run/ganeti``
and ``/var/log/ganeti`` with the variable's value verbatim; the CLI and daemon do the
same so one machine can host test clusters.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_DATA_DIR = "/var/lib/ganeti"
DEFAULT_RUN_DIR = "/var/run/ganeti"
DEFAULT_LOG_DIR = "/var/log/ganeti"


@dataclass(frozen=True)
class GanetiPaths:
    """The directories of one Ganeti node and the files in them."""

    data_dir: str = DEFAULT_DATA_DIR
    run_dir: str = DEFAULT_RUN_DIR
    log_dir: str = DEFAULT_LOG_DIR

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, data_dir: str | None = None
    ) -> GanetiPaths:
        """Paths under ``GANETI_ROOTDIR`` (if set); ``data_dir`` overrides the data directory."""
        root = (os.environ if environ is None else environ).get("GANETI_ROOTDIR", "")
        return cls(
            data_dir=data_dir if data_dir is not None else root + DEFAULT_DATA_DIR,
            run_dir=root + DEFAULT_RUN_DIR,
            log_dir=root + DEFAULT_LOG_DIR,
        )

    @property
    def config_data(self) -> str:
        return os.path.join(self.data_dir, "config.data")

    @property
    def hmac_key(self) -> str:
        return os.path.join(self.data_dir, "hmac.key")

    def ssconf(self, name: str) -> str:
        """An ssconf file, e.g. ``ssconf("master_candidates_ips")``."""
        return os.path.join(self.data_dir, "ssconf_" + name)

    @property
    def instance_reason_dir(self) -> str:
        return os.path.join(self.run_dir, "instance-reason")

    @property
    def kvm_hypervisor_dir(self) -> str:
        return os.path.join(self.run_dir, "kvm-hypervisor")

    def has_cluster_files(self) -> bool:
        """Whether this host belongs to a Ganeti cluster (it has config.data or hmac.key)."""
        return os.path.exists(self.config_data) or os.path.exists(self.hmac_key)
