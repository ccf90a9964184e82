from scrm.console import main

main()
