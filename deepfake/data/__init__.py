"""Reading the user's media: safe image decoding, labelled folders and their split, the datasets, the
preprocessing a checkpoint carries, named degradations, face detection and video frames."""
