from ganeti_agent.cli.moncollector import main

main()
