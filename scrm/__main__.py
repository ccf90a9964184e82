from scrm.cli import main

main()
