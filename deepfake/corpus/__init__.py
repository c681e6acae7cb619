"""The training corpus of many generators and cameras: its manifest (data/sources.toml, read by manifest.py), the
builder that takes the selected files of each public repository at its recorded commit (builder.py, reading git
objects through git_snapshot.py), and the corpus card (card.py). Used by `deepfake corpus` and the tools that
rebuild the shipped model; nothing that predicts imports it."""
