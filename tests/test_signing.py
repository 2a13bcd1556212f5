"""Our signer and verifier against Allpay's published test vector.

The vector lives in shared/allpay/signature-vector beside the project.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from bot.allpay.protocol import parse_document
from bot.allpay.signing import DSIG_NS, SignatureError, Signer, Verifier, generate_key_pair


def _vector(shared: Path) -> Path:
    return shared / "allpay" / "signature-vector"


def _signature_value(root: etree._Element) -> str:
    value = root.findtext(f".//{{{DSIG_NS}}}SignatureValue")
    assert value is not None
    return "".join(value.split())


@pytest.mark.parametrize("name", ["signed.xml", "signed-reformatted.xml"])
def test_allpay_vector_verifies(shared: Path, name: str) -> None:
    verifier = Verifier.from_file(_vector(shared) / "TEST.pub.pem")
    root = parse_document((_vector(shared) / name).read_bytes())
    verified = verifier.verify(root)
    assert verified.digest == "78Jh+h7250SEZaFDwPH9IaR0yx4="


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: s.replace(b"<transactionNumber>1<", b"<transactionNumber>2<"),
        lambda s: s.replace(b"78Jh+h7250", b"78Jh+h7251"),
        lambda s: s.replace(b"v/G+PFikMm0", b"v/G+PFikMm1"),
        lambda s: s.replace(b"</GetTransactionRequest>", b"<x/></GetTransactionRequest>"),
        lambda s: s.replace(b'SOAP-SEC:id="Body"', b'SOAP-SEC:id="Body2"'),
    ],
)
def test_tampered_vector_fails(shared: Path, tamper: object) -> None:
    assert callable(tamper)
    verifier = Verifier.from_file(_vector(shared) / "TEST.pub.pem")
    data = tamper((_vector(shared) / "signed.xml").read_bytes())
    assert data != (_vector(shared) / "signed.xml").read_bytes()
    with pytest.raises(SignatureError):
        verifier.verify(parse_document(data))


def test_vector_fails_with_another_key(shared: Path, tmp_path: Path) -> None:
    generate_key_pair(tmp_path / "k.pem", tmp_path / "p.pem", bits=1024)
    root = parse_document((_vector(shared) / "signed.xml").read_bytes())
    with pytest.raises(SignatureError):
        Verifier.from_file(tmp_path / "p.pem").verify(root)


def test_our_signer_reproduces_allpays_signature(shared: Path) -> None:
    """Signing unsigned.xml with TEST.priv.pem gives Allpay's very digest and signature value."""
    root = parse_document((_vector(shared) / "unsigned.xml").read_bytes())
    digest = Signer.from_file(_vector(shared) / "TEST.priv.pem", None).sign(root)
    expected = parse_document((_vector(shared) / "signed.xml").read_bytes())
    assert digest == "78Jh+h7250SEZaFDwPH9IaR0yx4="
    assert _signature_value(root) == _signature_value(expected)
    Verifier.from_file(_vector(shared) / "TEST.pub.pem").verify(root)


def test_sign_adds_certificate_number_and_verifies(tmp_path: Path) -> None:
    generate_key_pair(tmp_path / "k.pem", tmp_path / "p.pem")
    root = etree.fromstring(
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x>1</x>'
        b"</s:Body></s:Envelope>"
    )
    Signer.from_file(tmp_path / "k.pem", "42").sign(root)
    header = root[0]
    assert header.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Header"
    assert header[0].tag == "{https://allpay.kz}certificateNumber" and header[0].text == "42"
    assert header[1].tag == f"{{{DSIG_NS}}}Signature"
    assert root.find(f".//{{{DSIG_NS}}}KeyInfo") is None
    again = parse_document(etree.tostring(root))
    assert Verifier.from_file(tmp_path / "p.pem").verify(again).certificate_number == "42"


def test_signature_outside_header_is_refused(shared: Path) -> None:
    root = parse_document((_vector(shared) / "signed.xml").read_bytes())
    signature = root.find(f".//{{{DSIG_NS}}}Signature")
    assert signature is not None
    root[1].append(signature)  # move it into the Body
    with pytest.raises(SignatureError):
        Verifier.from_file(_vector(shared) / "TEST.pub.pem").verify(root)


def test_unreadable_key_names_the_file_not_the_content(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(SignatureError) as info:
        Signer.from_file(bad, "1")
    assert "bad.pem" in str(info.value) and "not a key" not in str(info.value)


def test_comments_are_unsigned_and_dropped_before_reading(shared: Path) -> None:
    """URI="" excludes comments from the digest; our parser drops them so none can split text."""
    data = (
        (_vector(shared) / "signed.xml")
        .read_bytes()
        .replace(b"<transactionNumber>1<", b"<transactionNumber><!-- 2 -->1<")
    )
    root = parse_document(data)
    Verifier.from_file(_vector(shared) / "TEST.pub.pem").verify(root)
    assert root.findtext(".//transactionNumber") == "1"
