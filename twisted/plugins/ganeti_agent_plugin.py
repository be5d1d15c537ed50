from twisted.application.service import ServiceMaker

ganeti_agent = ServiceMaker(
    "ganeti-agent",
    "ganeti_agent.server.tap",
    "Ganeti node agent: monitoring API, data collectors and confd",
    "ganeti-agent",
)
