"""Faces: boxes and crops (boxes.py), the detectors by name (detectors.py: OpenCV's Haar cascade, MTCNN), and
MTCNN's networks, whose weights come from facenet-pytorch's wheel (mtcnn.py). Above models (the packaged weights)
and data (decoding), below inference, which crops faces for --faces and videos."""
