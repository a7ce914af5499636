from driftd.cli import main

main()
