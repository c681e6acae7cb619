"""Provenance evidence: each kind read from files the tests build, bounds on hostile metadata, and how the
evidence reaches predict.py's JSON and CSV, the Python API and the HTML report."""
import csv
import datetime
import io
import json
import re

import c2pa
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imwatermark import WatermarkDecoder, WatermarkEncoder  # requirements-pretrained.txt, installed --no-deps
from PIL import Image, PngImagePlugin

from conftest import ROOT, run_script
from deepfake.provenance import Evidence, deciding_evidence, read_evidence
from deepfake.provenance.png_text import MAX_CHUNKS, read_png_text
from deepfake.provenance.watermark import KNOWN_MARKS, decode_bits
from deepfake.provenance.xmp import MAX_XMP_BYTES

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
A1111 = ("a lighthouse at dusk, oil painting\nNegative prompt: blurry\n"
         "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512, Model: v1-5-pruned")
COMFY_PROMPT = json.dumps({"4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl_base.safetensors"}},
                           "3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20}}})


def photo(size: int = 320, seed: int = 0) -> Image.Image:
    """A textured picture, big enough to carry an invisible watermark (the encoder needs 256 x 256)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(128, 40, (12, 12, 3)).clip(0, 255).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(base).resize((size, size), Image.BICUBIC), dtype=np.float32)
    return Image.fromarray((smooth + rng.normal(0, 6, smooth.shape)).clip(0, 255).astype(np.uint8))


def kinds_and_says(evidence):
    return [(item.kind, item.says) for item in evidence]


def xmp_packet(source_type: str = "", creator_tool: str = "", padding: int = 0) -> bytes:
    attributes = (f' Iptc4xmpExt:DigitalSourceType="{IPTC}{source_type}"' if source_type else "") + (
        f' xmp:CreatorTool="{creator_tool}"' if creator_tool else "")
    return (f'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            f'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""'
            f' xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
            f'{attributes}/></rdf:RDF>{" " * padding}</x:xmpmeta><?xpacket end="w"?>').encode()


def png_with_text(path, texts=(), compressed=(), international=()):
    info = PngImagePlugin.PngInfo()
    for key, value in texts:
        info.add_text(key, value)
    for key, value in compressed:
        info.add_text(key, value, zip=True)
    for key, value in international:
        info.add_itxt(key, value, zip=True)
    photo().save(path, pnginfo=info)
    return path


def jpeg_with_exif(path, software=None, user_comment=None, camera=None):
    exif = Image.Exif()
    if software:
        exif[0x0131] = software
    if camera:
        exif[0x010F], exif[0x0110] = camera
        exif.get_ifd(0x8769)[0x829A] = 1 / 250
    if user_comment:
        exif.get_ifd(0x8769)[0x9286] = b"ASCII\0\0\0" + user_comment.encode()
    photo().save(path, "JPEG", quality=92, exif=exif)
    return path


# ---------------------------------------------------------------- PNG text
@pytest.mark.parametrize("texts, compressed, international, expected", [
    ([("parameters", A1111)], [], [], "Steps: 20, Sampler: Euler a"),                 # AUTOMATIC1111 / Forge
    ([("prompt", COMFY_PROMPT)], [], [], "sdxl_base.safetensors"),                     # ComfyUI, with its model
    ([], [("workflow", json.dumps({"nodes": [{"id": 1}]}))], [], "ComfyUI workflow"),  # zTXt
    ([("Software", "NovelAI")], [], [], "NovelAI"),
    ([], [], [("Comment", "made with Midjourney v6")], "Midjourney"),                 # compressed iTXt
])
def test_png_generator_chunks_say_ai_generated(tmp_path, texts, compressed, international, expected):
    evidence = read_evidence(png_with_text(tmp_path / "generated.png", texts, compressed, international))
    assert kinds_and_says(evidence) == [("png_text", "ai_generated")]
    assert expected in evidence[0].detail and evidence[0].verified is False


def test_png_text_that_names_no_generator_says_nothing(tmp_path):
    path = png_with_text(tmp_path / "edited.png", [("Software", "GIMP 2.10"), ("parameters", "exposure=+1"),
                                                    ("Comment", "holiday, 2019")])
    assert read_evidence(path) == []


def test_png_with_thousands_of_chunks_gets_a_note_not_a_hang(tmp_path):
    info = PngImagePlugin.PngInfo()
    for index in range(MAX_CHUNKS + 10):
        info.add_text(f"k{index}", "v")
    path = tmp_path / "many.png"
    photo(64).save(path, pnginfo=info)
    evidence = read_evidence(path)
    assert kinds_and_says(evidence) == [("png_text", "unknown")] and "chunks" in evidence[0].detail
    assert deciding_evidence(evidence) is None


def test_png_text_that_inflates_past_the_bound_is_not_read(tmp_path):
    # ~3 KB on disk, 3 MB inflated. PIL itself refuses to open such a file (so the image loader reports it);
    # the chunk walker, which also reads text after the pixel data where PIL's open does not look, stops too.
    path = png_with_text(tmp_path / "bomb.png", compressed=[("parameters", "Steps: 1, Seed: 1 " + "x" * (3 << 20))])
    evidence = read_png_text(path.read_bytes())
    assert kinds_and_says(evidence) == [("png_text", "unknown")] and "over 1 MB" in evidence[0].detail


# ---------------------------------------------------------------- XMP
@pytest.mark.parametrize("source_type, says", [("trainedAlgorithmicMedia", "ai_generated"),
                                               ("compositeWithTrainedAlgorithmicMedia", "ai_edited"),
                                               ("digitalCapture", "camera"), ("algorithmicMedia", "unknown")])
def test_jpeg_xmp_digital_source_type(tmp_path, source_type, says):
    path = tmp_path / "x.jpg"
    photo().save(path, "JPEG", xmp=xmp_packet(source_type))
    evidence = read_evidence(path)
    assert kinds_and_says(evidence) == [("xmp", says)] and source_type in evidence[0].detail


def test_xmp_creator_tool_naming_a_generator(tmp_path):
    path = tmp_path / "x.jpg"
    photo().save(path, "JPEG", xmp=xmp_packet(creator_tool="Adobe Firefly"))
    assert kinds_and_says(read_evidence(path)) == [("xmp", "ai_generated")]


def test_huge_and_entity_laden_xmp_packets_get_notes(tmp_path):
    huge = tmp_path / "huge.png"
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp_packet("trainedAlgorithmicMedia", padding=MAX_XMP_BYTES + 1).decode())
    photo(64).save(huge, pnginfo=info)
    evidence = read_evidence(huge)
    assert kinds_and_says(evidence) == [("xmp", "unknown")] and "over 1 MB" in evidence[0].detail
    laughs = tmp_path / "laughs.jpg"
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><!DOCTYPE lol [<!ENTITY a "aaaaaaaa">]>&a;</x:xmpmeta>')
    photo(64).save(laughs, "JPEG", xmp=packet)
    assert kinds_and_says(read_evidence(laughs)) == [("xmp", "unknown")]


# ---------------------------------------------------------------- EXIF
def test_exif_software_and_a1111_user_comment_say_ai_generated(tmp_path):
    assert kinds_and_says(read_evidence(jpeg_with_exif(tmp_path / "a.jpg", software="Midjourney"))) == [
        ("exif", "ai_generated")]
    evidence = read_evidence(jpeg_with_exif(tmp_path / "b.jpg", user_comment=A1111))
    assert kinds_and_says(evidence) == [("exif", "ai_generated")] and "Steps: 20" in evidence[0].detail


def test_exif_in_a_png_is_read_without_decoding_its_pixels(tmp_path):
    exif = Image.Exif()
    exif[0x0131] = "Midjourney"
    photo().save(tmp_path / "a.png", exif=exif)
    assert kinds_and_says(read_evidence(tmp_path / "a.png")) == [("exif", "ai_generated")]


def test_camera_exif_is_reported_as_weak_and_never_decides(tmp_path):
    evidence = read_evidence(jpeg_with_exif(tmp_path / "c.jpg", software="Ver.1.0", camera=("Canon", "EOS R5")))
    assert kinds_and_says(evidence) == [("exif", "camera")]
    assert "Canon EOS R5" in evidence[0].detail and "exposure time" in evidence[0].detail
    assert "weak" in evidence[0].detail and deciding_evidence(evidence) is None


# ---------------------------------------------------------------- invisible watermarks
def marked(mark, image: Image.Image, channel_order: str = "BGR") -> Image.Image:
    """`image` marked as the generators' reference code does (invisible-watermark's encoder, dwtDct)."""
    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", mark.bits.astype(int).tolist())
    pixels = np.asarray(image)
    if channel_order == "BGR":  # CompVis and generative-models convert to BGR first, as the encoder expects
        return Image.fromarray(encoder.encode(pixels[:, :, ::-1].copy(), "dwtDct")[:, :, ::-1])
    return Image.fromarray(encoder.encode(pixels.copy(), "dwtDct"))  # early diffusers passed RGB


@pytest.mark.parametrize("mark", KNOWN_MARKS, ids=lambda mark: mark.name)
def test_vectorised_decoder_gives_the_librarys_bits(mark):
    decoder = WatermarkDecoder("bits", len(mark.bits))
    for image in (photo(320, seed=1), photo(512, seed=2), marked(mark, photo(384, seed=3))):
        bgr = np.asarray(image)[:, :, ::-1].copy()
        assert np.array_equal(decode_bits(bgr, len(mark.bits)), np.array(decoder.decode(bgr, "dwtDct"), bool))


WRITERS = [(mark, "BGR") for mark in KNOWN_MARKS] + [(mark, "RGB") for mark in KNOWN_MARKS if mark.rgb_too]


@pytest.mark.parametrize("mark, channel_order", WRITERS, ids=[f"{m.name}-{o}" for m, o in WRITERS])
def test_generator_watermarks_are_found_in_png_and_lost_in_jpeg_90(tmp_path, mark, channel_order):
    image = marked(mark, photo(512, seed=4), channel_order)
    image.save(tmp_path / "marked.png")
    evidence = read_evidence(tmp_path / "marked.png")
    assert kinds_and_says(evidence) == [("watermark", "ai_generated")] and mark.name in evidence[0].detail
    image.save(tmp_path / "marked.jpg", "JPEG", quality=90)
    assert read_evidence(tmp_path / "marked.jpg") == []  # re-encoding destroys the mark: JPEGs are not read
    photo(512, seed=4).save(tmp_path / "plain.png")
    assert read_evidence(tmp_path / "plain.png") == []


# ---------------------------------------------------------------- C2PA
@pytest.fixture(scope="module")
def signing():
    return throwaway_signer()


def throwaway_signer():
    """A throw-away certificate authority and signer, made with `cryptography`: the claim is well-formed and
    signed, but its signer is on no trust list unless the test passes the CA as a trust anchor."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common_name):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "deepfake tests")])

    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject, issuer, public_key, signing_key, is_ca):
        # C2PA's certificate profile: a CA with keyCertSign; an end-entity signer with digitalSignature, an
        # allowed extended key usage and its issuer's key identifier.
        usage = dict.fromkeys(("content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
                               "encipher_only", "decipher_only"), False)
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=7))
                   .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=not is_ca, key_cert_sign=is_ca, crl_sign=is_ca,
                                                **usage), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
        if not is_ca:
            builder = (builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                                             critical=False)
                       .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
                                      critical=False))
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate(name("test root"), name("test root"), ca_key.public_key(), ca_key, True)
    leaf = certificate(name("test generator signer"), ca.subject, key.public_key(), ca_key, False)
    pem = serialization.Encoding.PEM
    return {"chain": leaf.public_bytes(pem) + ca.public_bytes(pem), "ca": ca.public_bytes(pem).decode(),
            "key": key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())}


def c2pa_signed(path, signing, source_type="trainedAlgorithmicMedia", mime="image/jpeg"):
    """`path` signed in place with a manifest whose creation action declares `source_type` (a JPEG of photo()
    is written first when `path` does not exist)."""
    if not path.exists():
        photo().save(path, "JPEG", quality=92)
    manifest = {"claim_generator_info": [{"name": "test-generator", "version": "1.0"}], "title": path.name,
                "assertions": [{"label": "c2pa.actions", "data": {"actions": [
                    {"action": "c2pa.created", "digitalSourceType": IPTC + source_type}]}}]}
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(alg=b"es256", sign_cert=signing["chain"],
                                                       private_key=signing["key"], ta_url=None))
    out = io.BytesIO()
    with c2pa.Builder(manifest) as builder:
        builder.sign(signer, mime, io.BytesIO(path.read_bytes()), out)
    path.write_bytes(out.getvalue())
    return path


def test_c2pa_signed_by_an_untrusted_signer_is_well_formed_and_unverified(tmp_path, signing):
    evidence = read_evidence(c2pa_signed(tmp_path / "signed.jpg", signing))
    assert kinds_and_says(evidence) == [("c2pa", "ai_generated")] and evidence[0].verified is False
    assert "test-generator" in evidence[0].detail and "no trust list" in evidence[0].detail
    assert deciding_evidence(evidence) == evidence[0]


def test_c2pa_with_its_root_as_trust_anchor_is_verified(tmp_path, signing):
    evidence = read_evidence(c2pa_signed(tmp_path / "signed.jpg", signing, "compositeWithTrainedAlgorithmicMedia"),
                             trust_anchors=signing["ca"])
    assert kinds_and_says(evidence) == [("c2pa", "ai_edited")] and evidence[0].verified is True


def test_c2pa_in_a_video(tmp_path, signing):
    from test_faces_video import write_video
    video = c2pa_signed(write_video(tmp_path / "clip.mp4", photo(64), n_frames=4), signing, mime="video/mp4")
    assert kinds_and_says(read_evidence(video)) == [("c2pa", "ai_generated")]


def test_tampered_c2pa_claim_proves_nothing(tmp_path, signing):
    path = c2pa_signed(tmp_path / "signed.jpg", signing)
    data = bytearray(path.read_bytes())
    data[-40] ^= 0x0F  # a pixel byte in the last scan: the signed hash no longer matches
    path.write_bytes(bytes(data))
    evidence = read_evidence(path)
    assert kinds_and_says(evidence) == [("c2pa", "unknown")] and "dataHash.mismatch" in evidence[0].detail
    assert deciding_evidence(evidence) is None


def test_malformed_c2pa_store_gets_a_note(tmp_path):
    path = tmp_path / "broken.jpg"
    photo(64).save(path, "JPEG")
    data = path.read_bytes()
    # An APP11 segment (where JUMBF lives) that claims to be a C2PA box and is not.
    junk = b"JP\x00\x00\x00\x00\x00\x01" + b"\x00\x00\x00\x40jumb" + b"\x00\x00\x00\x18jumdc2pa" + bytes(40)
    path.write_bytes(data[:2] + b"\xff\xeb" + (len(junk) + 2).to_bytes(2, "big") + junk + data[2:])
    evidence = read_evidence(path)
    assert all(item.says == "unknown" and deciding_evidence([item]) is None for item in evidence)


# ---------------------------------------------------------------- bounds: no crash on any bytes
def _seed_files():
    buffer = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111)
    info.add_itxt("XML:com.adobe.xmp", xmp_packet("trainedAlgorithmicMedia").decode())
    photo(48).save(buffer, "PNG", pnginfo=info)
    png = buffer.getvalue()
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0131] = "Stable Diffusion"
    photo(48).save(buffer, "JPEG", exif=exif, xmp=xmp_packet("digitalCapture"))
    return [png, buffer.getvalue()]


SEEDS = _seed_files()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(original=st.sampled_from(SEEDS), data=st.data())
def test_mutated_metadata_never_raises(tmp_path, original, data):
    payload = bytearray(original)
    for _ in range(data.draw(st.integers(1, 12))):
        position = data.draw(st.integers(0, len(payload) - 1))
        payload[position] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        payload = payload[:data.draw(st.integers(8, len(payload)))]
    path = tmp_path / ("fuzz.png" if original is SEEDS[0] else "fuzz.jpg")
    path.write_bytes(bytes(payload))
    evidence = read_evidence(path)
    assert all(isinstance(item, Evidence) for item in evidence)


# ---------------------------------------------------------------- predict.py and the API
@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory, signing):
    """One file of each kind, a plain photo, and a video with Content Credentials."""
    folder = tmp_path_factory.mktemp("provenance")
    png_with_text(folder / "a1111.png", [("parameters", A1111)])
    marked(KNOWN_MARKS[0], photo(512, seed=4)).save(folder / "watermarked.png")
    photo().save(folder / "xmp.jpg", "JPEG", xmp=xmp_packet("trainedAlgorithmicMedia"))
    jpeg_with_exif(folder / "camera.jpg", camera=("Nikon", "D850"))
    c2pa_signed(folder / "c2pa.jpg", signing)
    photo(seed=9).save(folder / "plain.jpg", "JPEG", quality=92)
    from test_faces_video import write_video
    c2pa_signed(write_video(folder / "clip.mp4", photo(64), n_frames=4), signing, mime="video/mp4")
    return folder


def predict_json(checkpoint, folder, *flags):
    result = run_script("predict.py", "--image_path", str(folder), "--weights", str(checkpoint), "--json",
                        "--workers", "0", *flags)
    assert result.returncode == 0, result.stderr
    return {json.loads(line)["path"].rsplit("/", 1)[-1]: json.loads(line) for line in result.stdout.splitlines()}


def test_folder_mode_reports_every_kind_and_provenance_decides(trained_checkpoint, mixed_folder, tmp_path):
    decide = predict_json(trained_checkpoint, mixed_folder, "--csv", str(tmp_path / "out.csv"))
    report = predict_json(trained_checkpoint, mixed_folder, "--evidence", "report")
    off = predict_json(trained_checkpoint, mixed_folder, "--evidence", "off")
    kinds = {name: [item["kind"] for item in record["evidence"]] for name, record in decide.items()}
    assert kinds == {"a1111.png": ["png_text"], "watermarked.png": ["watermark"], "xmp.jpg": ["xmp"],
                     "camera.jpg": ["exif"], "c2pa.jpg": ["c2pa"], "plain.jpg": [], "clip.mp4": ["c2pa"]}
    for name, record in decide.items():
        # The score is always the model's; only an AI-generation declaration changes the label.
        assert record["fake_probability"] == report[name]["fake_probability"] == off[name]["fake_probability"]
        assert report[name]["decided_by"] == off[name]["decided_by"] == "model"
        assert report[name]["label"] == off[name]["label"]
        declared = name in ("a1111.png", "watermarked.png", "xmp.jpg", "c2pa.jpg", "clip.mp4")
        assert record["decided_by"] == ("provenance" if declared else "model")
        assert record["label"] == ("fake" if declared else off[name]["label"])
        assert off[name]["evidence"] is None
    rows = {row["path"].rsplit("/", 1)[-1]: row for row in csv.DictReader(open(tmp_path / "out.csv"))}
    assert rows["c2pa.jpg"]["evidence"] == "c2pa:ai_generated" and rows["c2pa.jpg"]["decided_by"] == "provenance"
    assert rows["camera.jpg"]["evidence"] == "exif:camera" and rows["plain.jpg"]["evidence"] == ""


def test_single_image_text_output_says_what_decided(trained_checkpoint, mixed_folder):
    result = run_script("predict.py", "--image_path", str(mixed_folder / "xmp.jpg"), "--weights",
                        str(trained_checkpoint))
    assert result.returncode == 0, result.stderr
    assert "\tfake\t" in result.stdout and "decided by provenance: XMP" in result.stdout


def test_python_api_carries_evidence(trained_checkpoint, mixed_folder, signing):
    from deepfake import load_detector
    detector = load_detector(trained_checkpoint, device="cpu", trust_anchors=signing["ca"])
    prediction = detector.predict(mixed_folder / "c2pa.jpg")
    assert [(item.kind, item.verified) for item in prediction.evidence] == [("c2pa", True)]
    assert prediction.decided_by == "provenance" and prediction.label == "fake"
    plain = detector.predict(mixed_folder / "plain.jpg")
    assert plain.evidence == [] and plain.decided_by == "model"
    from deepfake.faces.detectors import create_face_detector
    faces = detector.predict_faces(mixed_folder / "xmp.jpg", create_face_detector())
    assert [item.kind for item in faces.evidence] == ["xmp"] and faces.decided_by == "provenance"
    assert load_detector(trained_checkpoint, device="cpu", evidence="off").predict(
        mixed_folder / "plain.jpg").evidence is None


def test_bad_trust_anchors_file_is_one_line(trained_checkpoint, mixed_folder, tmp_path):
    (tmp_path / "anchors.pem").write_text("not a certificate")
    result = run_script("predict.py", "--image_path", str(mixed_folder), "--weights", str(trained_checkpoint),
                        "--trust-anchors", str(tmp_path / "anchors.pem"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "anchors.pem: holds no PEM certificate" in result.stderr


def test_report_thumbnails_list_their_evidence(mixed_folder):
    from deepfake.reporting.report import _evidence_list
    assert "png_text: ai_generated" in _evidence_list(mixed_folder / "a1111.png")
    assert _evidence_list(mixed_folder / "plain.jpg") == ""


def test_readme_example_the_shipped_model_says_real_and_the_file_says_generated(tmp_path):
    """docs/provenance.md's example (README points to it): samples/astronaut.png re-saved with A1111's PNG text."""
    from deepfake import load_detector
    from deepfake.samples import write_samples
    astronaut = [path for path in write_samples(tmp_path / "samples") if path.stem == "astronaut"][0]
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "an astronaut portrait\n" + A1111.splitlines()[-1])
    Image.open(astronaut).save(tmp_path / "astronaut_a1111.png", pnginfo=info)
    detector = load_detector(device="cpu")
    plain, declared = detector.predict(astronaut), detector.predict(tmp_path / "astronaut_a1111.png")
    assert plain.label == "real" and plain.decided_by == "model" and plain.evidence == []
    assert declared.label == "fake" and declared.decided_by == "provenance"
    assert declared.fake_probability == pytest.approx(plain.fake_probability, abs=1e-6)
    shown = re.search(r"the model calls `samples/astronaut.png` real \(([0-9.]+)\)",
                      (ROOT / "docs" / "provenance.md").read_text())
    assert round(plain.fake_probability, 4) == float(shown.group(1))  # the figure the document shows
