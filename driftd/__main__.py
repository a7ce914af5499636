from driftd.cli.main import main

main()
