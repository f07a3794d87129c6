"""Mints the JWTs the gateway's JWT tests send, with PyJWT (a mainstream library, so the
gateway is tested against tokens it did not make itself), and writes the keys they need.

    jwt_mint.py DIR NOW

writes DIR/public.pem (the RSA key, PEM), DIR/jwks.json (RSA "rsa-1" and EC "ec-1" public keys)
and DIR/tokens.json: {name: token} for every case the tests name, with times around NOW.
"""
import base64
import hashlib
import hmac
import json
import sys

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

HS256_KEY = "hs256-test-key-of-at-least-32-bytes!"
AUDIENCE = "shop"
ISSUER = "https://idp.example"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_int(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def main() -> None:
    out, now = sys.argv[1], int(sys.argv[2])
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    other_ec = ec.generate_private_key(ec.SECP256R1())
    rsa_public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with open(f"{out}/public.pem", "wb") as f:
        f.write(rsa_public_pem)
    rsa_numbers = rsa_key.public_key().public_numbers()
    ec_numbers = ec_key.public_key().public_numbers()
    jwks = {"keys": [
        {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256",
         "n": jwk_int(rsa_numbers.n), "e": jwk_int(rsa_numbers.e)},
        {"kty": "EC", "kid": "ec-1", "crv": "P-256",
         "x": b64url(ec_numbers.x.to_bytes(32, "big")),
         "y": b64url(ec_numbers.y.to_bytes(32, "big"))},
        {"kty": "RSA", "kid": "enc-1", "use": "enc",
         "n": jwk_int(rsa_numbers.n), "e": jwk_int(rsa_numbers.e)},
    ]}
    with open(f"{out}/jwks.json", "w") as f:
        json.dump(jwks, f)

    def claims(user="u-1", **extra):
        body = {"sub": user, "aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 600}
        body.update(extra)
        return {k: v for k, v in body.items() if v is not None}

    signers = {
        "hs256": (HS256_KEY, "HS256", None, HS256_KEY + "-other"),
        "rs256": (rsa_key, "RS256", "rsa-1", other_rsa),
        "es256": (ec_key, "ES256", "ec-1", other_ec),
    }
    tokens = {}
    for name, (key, alg, kid, other_key) in signers.items():
        headers = {"kid": kid} if kid else None
        sign = lambda body, k=key: jwt.encode(body, k, algorithm=alg, headers=headers)
        tokens[f"{name}_u1"] = sign(claims("u-1"))
        tokens[f"{name}_u2"] = sign(claims("u-2"))
        tokens[f"{name}_expired"] = sign(claims(exp=now - 120))
        tokens[f"{name}_within_leeway"] = sign(claims(exp=now - 5))
        tokens[f"{name}_not_yet_valid"] = sign(claims(nbf=now + 600))
        tokens[f"{name}_wrong_key"] = sign(claims(), other_key)
        tokens[f"{name}_wrong_audience"] = sign(claims(aud="another-shop"))
        tokens[f"{name}_wrong_issuer"] = sign(claims(iss="https://evil.example"))
        tokens[f"{name}_no_exp"] = sign(claims(exp=None))
        # u-1's signature over a payload changed to say u-2.
        head, _, signature = tokens[f"{name}_u1"].split(".")
        forged = b64url(json.dumps(claims("u-2"), separators=(",", ":")).encode())
        tokens[f"{name}_wrong_signature"] = f"{head}.{forged}.{signature}"
    tokens["rs256_pem_u1"] = jwt.encode(claims("u-1"), rsa_key, algorithm="RS256")
    tokens["alg_none"] = jwt.encode(claims("u-1"), None, algorithm="none")
    # Algorithm confusion: HS256 "signed" with the RSA public key as the HMAC secret.
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    body = b64url(json.dumps(claims("u-1")).encode())
    mac = hmac.new(rsa_public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    tokens["alg_confusion"] = f"{head}.{body}.{b64url(mac)}"
    with open(f"{out}/tokens.json", "w") as f:
        json.dump(tokens, f)


if __name__ == "__main__":
    main()
