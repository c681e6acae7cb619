"""python -m deepfake.convert: the command lives with the others, in cli.py; the converters in models/converters.py."""
if __name__ == "__main__":
    import sys

    from deepfake.cli import convert
    convert(sys.argv[1:])
