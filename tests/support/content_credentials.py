"""Images signed with C2PA content credentials at test time, by a certificate made here."""

from __future__ import annotations

import datetime
import functools
import io
import json

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["SIGNER_NAME", "SIGNER_ORG", "sign_image"]

SIGNER_NAME = "Test Image Generator"
SIGNER_ORG = "VisionaryAI Test CA"
AI_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, SIGNER_ORG),
    ])  # fmt: skip


def _usage(*, signs_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=signs_certificates,
        crl_sign=signs_certificates, encipher_only=False, decipher_only=False,
    )  # fmt: skip


@functools.cache
def _signer_files() -> tuple[bytes, bytes]:
    """(certificate chain PEM, private key PEM): a root, and a signing certificate under it."""
    now = datetime.datetime.now(datetime.UTC)
    valid = {"not_valid_before": now - datetime.timedelta(days=1),
             "not_valid_after": now + datetime.timedelta(days=30)}  # fmt: skip
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder(subject_name=_name("VisionaryAI Test Root"),
                                issuer_name=_name("VisionaryAI Test Root"),
                                public_key=root_key.public_key(),
                                serial_number=x509.random_serial_number(), **valid)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(signs_certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )  # fmt: skip
    leaf = (
        x509.CertificateBuilder(subject_name=_name(SIGNER_NAME), issuer_name=root.subject,
                                public_key=key.public_key(),
                                serial_number=x509.random_serial_number(), **valid)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(signs_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, hashes.SHA256())
    )  # fmt: skip
    chain = b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in (leaf, root))
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
    return chain, private


def sign_image(data: bytes, content_type: str = "image/png", generator: str = "Fake Image Model"):
    """`data` with an embedded C2PA manifest: created by an AI model, signed by the test CA."""
    chain, private = _signer_files()
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, private, None)
    )
    manifest = {
        "claim_generator_info": [{"name": generator, "version": "1.0"}],
        "title": "generated image",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType": AI_SOURCE}]}}],
    }  # fmt: skip
    signed = io.BytesIO()
    with c2pa.Builder.from_json(json.dumps(manifest)) as builder:
        builder.sign(signer, content_type, io.BytesIO(data), signed)
    signer.close()
    return signed.getvalue()
