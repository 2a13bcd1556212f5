"""XML-DSig exactly as Allpay's SDK does it (contract section 6).

Enveloped signature over the whole document (``Reference URI=""``), exclusive c14n with
comments, RSA-SHA1 with a SHA-1 digest, the ``Signature`` a child of ``soap:Header`` next to
``AP:certificateNumber``; no KeyInfo. SHA-1 is Allpay's choice and legacy: the algorithms live
here, named, and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import xmlsec
from lxml import etree

from bot.allpay.protocol import AP_NS, SOAP_NS

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
C14N_ALGORITHM = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
SIGNATURE_ALGORITHM = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
DIGEST_ALGORITHM = "http://www.w3.org/2000/09/xmldsig#sha1"
ENVELOPED_TRANSFORM = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

_HEADER = f"{{{SOAP_NS}}}Header"
_SIGNATURE = f"{{{DSIG_NS}}}Signature"


class SignatureError(Exception):
    """The document is not signed the way Allpay signs, or the signature does not verify."""


def _header(root: etree._Element, *, create: bool) -> etree._Element | None:
    header = root.find(_HEADER)
    if header is None and create:
        header = etree.Element(_HEADER)
        root.insert(0, header)
    return header


def _children(el: etree._Element | None, name: str) -> list[etree._Element]:
    """Children named ``ds:name``. Compares tags, because lxml's find() misses some nodes
    that libxmlsec created in C (their names are not interned in lxml's dictionary)."""
    tag = f"{{{DSIG_NS}}}{name}"
    return [] if el is None else [c for c in el if c.tag == tag]


def _child(el: etree._Element | None, name: str) -> etree._Element | None:
    found = _children(el, name)
    return found[0] if len(found) == 1 else None


def _digest_of(signature: etree._Element) -> str:
    value = _child(_child(_child(signature, "SignedInfo"), "Reference"), "DigestValue")
    if value is None or not value.text:
        raise SignatureError("signature has no DigestValue")
    return value.text.strip()


def load_key(path: Path, *, private: bool) -> xmlsec.Key:
    """Load a PEM key once; a clear error names the file, never its content."""
    try:
        key_format = xmlsec.constants.KeyDataFormatPem
        return xmlsec.Key.from_file(str(path), key_format)
    except (xmlsec.Error, OSError) as exc:
        kind = "private" if private else "public"
        raise SignatureError(f"cannot load {kind} key from {str(path)!r}: {exc}") from None


class Signer:
    """Signs requests (the bot) or answers (the sandbox) with one RSA key loaded once."""

    def __init__(self, key: xmlsec.Key, certificate_number: str | None) -> None:
        self._key = key
        self._certificate_number = certificate_number

    @classmethod
    def from_file(cls, path: Path, certificate_number: str | None) -> Signer:
        return cls(load_key(path, private=True), certificate_number)

    def sign(self, root: etree._Element, extra_header: list[etree._Element] | None = None) -> str:
        """Sign ``root`` in place; return the signature's DigestValue (Allpay's requestDsig)."""
        header = _header(root, create=True)
        assert header is not None
        if self._certificate_number is not None:
            cert = etree.SubElement(header, f"{{{AP_NS}}}certificateNumber", nsmap={"AP": AP_NS})
            cert.text = self._certificate_number
        for element in extra_header or ():
            header.append(element)
        signature = xmlsec.template.create(
            root, xmlsec.constants.TransformExclC14NWithComments, xmlsec.constants.TransformRsaSha1
        )
        reference = xmlsec.template.add_reference(signature, xmlsec.constants.TransformSha1, uri="")
        xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
        # xmlsec's template is pretty-printed; Allpay's SDK writes SignedInfo without white
        # space. Stripping it makes our signatures byte-identical to Allpay's test vector.
        for el in signature.iter():
            if el.text is not None and not el.text.strip():
                el.text = None
            el.tail = None
        header.append(signature)
        ctx = xmlsec.SignatureContext()
        ctx.key = self._key
        try:
            ctx.sign(signature)
        except xmlsec.Error as exc:
            raise SignatureError(f"signing failed: {exc}") from None
        return _digest_of(signature)


@dataclass(frozen=True, slots=True)
class Verified:
    """What a verified document told us about itself."""

    digest: str
    certificate_number: str | None
    request_dsig: str | None


class Verifier:
    """Verifies a document signed the Allpay way with one public key loaded once."""

    def __init__(self, key: xmlsec.Key) -> None:
        self._key = key

    @classmethod
    def from_file(cls, path: Path) -> Verifier:
        return cls(load_key(path, private=False))

    def verify(self, root: etree._Element) -> Verified:
        header = _header(root, create=False)
        if header is None:
            raise SignatureError("no soap:Header, so no signature")
        signatures = [el for el in root.iter(_SIGNATURE)]
        if len(signatures) != 1 or signatures[0].getparent() is not header:
            raise SignatureError("expected exactly one Signature, in soap:Header")
        signature = signatures[0]
        self._check_algorithms(signature)
        ctx = xmlsec.SignatureContext()
        ctx.key = self._key
        try:
            ctx.verify(signature)
        except xmlsec.Error:
            raise SignatureError("signature does not verify") from None
        return Verified(
            digest=_digest_of(signature),
            certificate_number=_header_text(header, "certificateNumber"),
            request_dsig=_header_text(header, "requestDsig"),
        )

    @staticmethod
    def _check_algorithms(signature: etree._Element) -> None:
        """Only Allpay's scheme is accepted: whole document, enveloped, the named algorithms."""
        info = _child(signature, "SignedInfo")
        if info is None:
            raise SignatureError("no SignedInfo")
        c14n = _child(info, "CanonicalizationMethod")
        method = _child(info, "SignatureMethod")
        references = _children(info, "Reference")
        if c14n is None or c14n.get("Algorithm") != C14N_ALGORITHM:
            raise SignatureError("unexpected canonicalization")
        if method is None or method.get("Algorithm") != SIGNATURE_ALGORITHM:
            raise SignatureError("unexpected signature method")
        if len(references) != 1 or references[0].get("URI") != "":
            raise SignatureError("the signature must cover the whole document")
        ref = references[0]
        transforms = [t.get("Algorithm") for t in _children(_child(ref, "Transforms"), "Transform")]
        if transforms != [ENVELOPED_TRANSFORM]:
            raise SignatureError("unexpected transforms")
        digest = _child(ref, "DigestMethod")
        if digest is None or digest.get("Algorithm") != DIGEST_ALGORITHM:
            raise SignatureError("unexpected digest method")


def _header_text(header: etree._Element, name: str) -> str | None:
    el = header.find(f"{{{AP_NS}}}{name}")
    return el.text.strip() if el is not None and el.text else None


def request_dsig_element(digest: str) -> etree._Element:
    el = etree.Element(f"{{{AP_NS}}}requestDsig", nsmap={"AP": AP_NS})
    el.text = digest
    return el


def generate_key_pair(private_path: Path, public_path: Path, bits: int = 2048) -> None:
    """Write a new RSA key pair as PEM (the sandbox's and the demo agent's keys)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from bot.infra.files import write_private

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_private(private_path, private_bytes)
    write_private(public_path, public_bytes)
