from ganaug.cli.main import main

main()
