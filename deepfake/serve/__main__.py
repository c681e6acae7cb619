if __name__ == "__main__":  # python -m deepfake.serve, an alias of `deepfake serve` (cli/serve.py)
    from deepfake.cli import serve
    serve()
