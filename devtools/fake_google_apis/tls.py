"""TLS for the hosts gcloud tunnels to through the fake: Secret Manager's regional endpoints.

gcloud, told to use the fake as its HTTP proxy, sends a call on a regional secret as
``CONNECT secretmanager.LOCATION.rep.googleapis.com:443`` and then TLS. The fake answers inside
the tunnel as that host, with a certificate from a throwaway authority of its own, which
:func:`~devtools.fake_google_apis.server.gcloud_env` has gcloud trust
(``CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE``).
"""

from __future__ import annotations

import re
import shutil
import ssl
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Secret Manager's regional endpoints ("Secret Manager locations":
# SERVICE.LOCATION.rep.googleapis.com). A call to one arrives through the proxy as CONNECT
# HOST:443, then TLS (see TunnelCertificates).
REGIONAL_HOST = re.compile(
    r"secretmanager\.(?P<location>[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?)\.rep\.googleapis\.com"
)


def regional_host(location: str) -> str:
    return f"secretmanager.{location}.rep.googleapis.com"


class TunnelCertificates:
    """A throwaway certificate authority, and a server certificate for each host gcloud tunnels
    to (Secret Manager's regional endpoints), so the fake can answer them over TLS. gcloud trusts
    the authority through ``CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE`` (:func:`gcloud_env`)."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake google apis test CA")])
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        self.ca = (
            self._builder(subject, subject, self._key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage, critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.folder = Path(tempfile.mkdtemp(prefix="fake-google-apis-"))
        self.ca_file = self.folder / "ca.pem"
        self.ca_file.write_bytes(self.ca.public_bytes(serialization.Encoding.PEM))
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def _builder(
        self, subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
    ) -> x509.CertificateBuilder:
        now = datetime.now(UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=7))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )

    def context(self, host: str) -> ssl.SSLContext:
        """A server TLS context presenting a certificate for ``host``."""
        with self._lock:
            if host not in self._contexts:
                key = ec.generate_private_key(ec.SECP256R1())
                subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
                certificate = (
                    self._builder(subject, self.ca.subject, key.public_key())
                    .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), False)
                    .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
                    .sign(self._key, hashes.SHA256())
                )
                pem = self.folder / f"{host}.pem"
                pem.write_bytes(
                    certificate.public_bytes(serialization.Encoding.PEM)
                    + key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                )
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(pem)
                self._contexts[host] = context
            return self._contexts[host]

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
