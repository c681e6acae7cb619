"""python -m deepfake.convert, an alias of `deepfake convert` (cli/convert.py); the work is in models/converters.py."""
if __name__ == "__main__":
    import sys

    from deepfake.cli import convert
    convert(sys.argv[1:])
