"""What declarations mean: IPTC digital source types (used by C2PA and XMP) and the names of image generators
(found in PNG text, EXIF and XMP tool fields)."""
import re
from typing import Optional, Tuple

# IPTC NewsCodes digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/), by their last path
# segment. Only a trained model's output counts as AI: "algorithmicMedia" is media made by an algorithm without
# training data (computer graphics), and "algorithmicallyEnhanced" is a minor correction such as denoising.
DIGITAL_SOURCE_TYPES = {
    "trainedAlgorithmicMedia": "ai_generated",
    "compositeWithTrainedAlgorithmicMedia": "ai_edited",
    "digitalCapture": "camera",
    "computationalCapture": "camera",
    "compositeCapture": "camera",
    "negativeFilm": "camera",
    "positiveFilm": "camera",
    "print": "camera",
}


def digital_source_type(value: str) -> Tuple[str, str]:
    """(says, the type's name) for an IPTC URI or bare name; anything else says unknown."""
    name = value.strip().rstrip("/").rsplit("/", 1)[-1]
    return DIGITAL_SOURCE_TYPES.get(name, "unknown"), name


# Tools whose name in a Software / CreatorTool / Comment field means the picture was generated. Word-bounded and
# specific, because these fields hold free text: a bare "Imagen" is Spanish for "image", "Flux" names other tools.
GENERATORS = (
    ("Stable Diffusion", r"stable[ _-]?diffusion|\bsdxl\b|\bsd ?1\.5\b"),
    ("AUTOMATIC1111 web UI", r"automatic1111|stable-diffusion-webui"),
    ("ComfyUI", r"comfy ?ui"),
    ("InvokeAI", r"invoke ?ai"),
    ("Fooocus", r"\bfooocus\b"),
    ("NovelAI", r"\bnovel ?ai\b"),
    ("Midjourney", r"\bmidjourney\b"),
    ("DALL-E", r"\bdall[·\-\s]?e\b"),
    ("OpenAI", r"\bopenai\b|\bchatgpt\b|\bgpt-4o\b"),
    ("Adobe Firefly", r"\bfirefly\b"),
    ("Google Imagen", r"\bgoogle imagen\b|\bimagen [234]\b|\bgemini\b"),
    ("FLUX", r"\bflux\.[12]\b|black forest labs"),
    ("Ideogram", r"\bideogram\b"),
    ("Leonardo.Ai", r"\bleonardo\.ai\b"),
    ("DreamStudio", r"\bdreamstudio\b"),
    ("Bing Image Creator", r"\bbing image creator\b|\bdesigner\.microsoft\b"),
    ("Kandinsky", r"\bkandinsky\b"),
    ("Craiyon", r"\bcraiyon\b"),
)
_GENERATOR_PATTERNS = [(name, re.compile(pattern, re.IGNORECASE)) for name, pattern in GENERATORS]

# Metadata is written by whoever made the file. A declaration sits in its first few kilobytes (A1111's settings
# line follows a prompt of at most a few hundred words), so only this much of a text is examined: every pattern
# below then costs bounded time, whatever a crafted file holds (a 499-byte PNG can inflate to megabytes of text).
MAX_EXAMINED_CHARS = 64 * 1024

# AUTOMATIC1111 (and Forge, SD.Next) write a "parameters" text: the prompt, then a settings line like
# "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model: ...". Two of its keys together
# are a signature no camera or editor writes. Matched in two linear searches, the first key and then a second
# after it: one pattern with ".*" between them backtracks quadratically over a text of repeated "Steps: 1,".
A1111_STEPS = re.compile(r"\bSteps: *\d+,", re.IGNORECASE)
A1111_SECOND_KEY = re.compile(r"\b(?:Sampler|CFG scale|Seed): *", re.IGNORECASE)


def examined(text: str) -> str:
    return text[:MAX_EXAMINED_CHARS]


def named_generator(text: str) -> Optional[str]:
    text = examined(text)
    for name, pattern in _GENERATOR_PATTERNS:
        if pattern.search(text):
            return name
    return None


def a1111_settings(text: str) -> Optional[str]:
    """The settings line of an AUTOMATIC1111-style parameters text (not the prompt), or None."""
    text = examined(text)
    for line in text.splitlines():
        steps = A1111_STEPS.search(line)
        if steps and A1111_SECOND_KEY.search(line, steps.end()):
            return line[steps.start():]
    return None
