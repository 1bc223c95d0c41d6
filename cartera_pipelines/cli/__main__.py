from cartera_pipelines.cli import main

main()
