"""`python -m deepfake SUBCOMMAND ARGS`: the `deepfake` command."""
if __name__ == "__main__":
    from deepfake.cli import main
    main()
