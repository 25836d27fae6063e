//! The RS256 signing keys: generation, PEM import, the JWKS they publish, signing and
//! verifying our own tokens.
//!
//! A key's `kid` is its RFC 7638 thumbprint, so the same key always has the same id.
//! Signing uses a pre-parsed key with RSA blinding (`jsonwebtoken` re-parses the DER
//! key on every signature, which costs more than the signature itself).

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::{
    RsaPrivateKey,
    pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, LineEnding},
    pkcs8::DecodePrivateKey,
    rand_core::OsRng,
    signature::{RandomizedSigner, SignatureEncoding},
    traits::PublicKeyParts,
};
use secrecy::SecretString;
use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

/// Bits of generated keys (Keycloak's default).
pub const KEY_BITS: usize = 2048;

/// A key problem.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The PEM is not an RSA private key.
    #[error("not an RSA private key in PKCS#1 or PKCS#8 PEM: {0}")]
    Pem(String),
    /// Generation or signing failed.
    #[error("RSA operation failed: {0}")]
    Crypto(String),
}

/// A public key as the JWKS lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Jwk {
    /// Key id.
    pub kid: String,
    /// `RSA`.
    pub kty: String,
    /// `RS256`.
    pub alg: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub usage: String,
    /// Modulus, base64url.
    pub n: String,
    /// Exponent, base64url.
    pub e: String,
}

/// `{"keys": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Jwks {
    /// The published keys, current first.
    pub keys: Vec<Jwk>,
}

/// An RSA key pair that signs tokens.
pub struct SigningKey {
    kid: String,
    signer: rsa::pkcs1v15::SigningKey<Sha256>,
    decoding: DecodingKey,
    jwk: Jwk,
    pem: SecretString,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

impl SigningKey {
    /// A new random 2048-bit key (slow: hundreds of milliseconds).
    pub fn generate() -> Result<Self, KeyError> {
        let private = RsaPrivateKey::new(&mut OsRng, KEY_BITS)
            .map_err(|e| KeyError::Crypto(e.to_string()))?;
        Self::from_private(private)
    }

    /// A key from a PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8 (`BEGIN PRIVATE KEY`) PEM.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let private = RsaPrivateKey::from_pkcs1_pem(pem.trim())
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem.trim()))
            .map_err(|e| KeyError::Pem(e.to_string()))?;
        Self::from_private(private)
    }

    fn from_private(private: RsaPrivateKey) -> Result<Self, KeyError> {
        let pem = private
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(|e| KeyError::Crypto(e.to_string()))?;
        let n = URL_SAFE_NO_PAD.encode(private.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
        // RFC 7638: the SHA-256 of the required members in lexicographic order.
        let thumbprint = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint.as_bytes()));
        let decoding = DecodingKey::from_rsa_components(&n, &e)
            .map_err(|err| KeyError::Crypto(err.to_string()))?;
        Ok(Self {
            jwk: Jwk {
                kid: kid.clone(),
                kty: "RSA".to_owned(),
                alg: "RS256".to_owned(),
                usage: "sig".to_owned(),
                n,
                e,
            },
            kid,
            signer: rsa::pkcs1v15::SigningKey::<Sha256>::new(private),
            decoding,
            pem: SecretString::from(pem.to_string()),
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// The private key as PKCS#1 PEM (for storage).
    pub fn private_pem(&self) -> &SecretString {
        &self.pem
    }

    /// A compact JWS of `claims`: header `{"alg":"RS256","typ":"JWT","kid":...}`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let header = serde_json::to_vec(&Header {
            alg: "RS256",
            typ: "JWT",
            kid: &self.kid,
        })
        .map_err(|e| KeyError::Crypto(e.to_string()))?;
        let payload = serde_json::to_vec(claims).map_err(|e| KeyError::Crypto(e.to_string()))?;
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = self
            .signer
            .try_sign_with_rng(&mut OsRng, token.as_bytes())
            .map_err(|e| KeyError::Crypto(e.to_string()))?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
        Ok(token)
    }
}

/// Why one of our tokens does not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Not a JWT, or signed by a key we do not publish.
    #[error("unknown or malformed token: {0}")]
    Malformed(String),
    /// Bad signature, expired, wrong issuer or audience.
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// What a verified token must say.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expect<'a> {
    /// `iss`, if checked.
    pub issuer: Option<&'a str>,
    /// One of `aud`, if checked.
    pub audience: Option<&'a str>,
}

/// The keys in use: the current one (signs) first, then the previous one (still
/// published, so tokens it signed keep validating until they expire).
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Vec<Arc<SigningKey>>,
}

impl KeyRing {
    /// A ring of `keys`, current first.
    pub fn new(keys: Vec<Arc<SigningKey>>) -> Self {
        Self { keys }
    }

    /// The signing key.
    pub fn current(&self) -> Option<&Arc<SigningKey>> {
        self.keys.first()
    }

    /// Every key, current first.
    pub fn keys(&self) -> &[Arc<SigningKey>] {
        &self.keys
    }

    /// The published JWKS.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self.keys.iter().map(|k| k.jwk.clone()).collect(),
        }
    }

    /// Verifies the signature (by any key of the ring), expiry (no leeway), and
    /// what `expect` asks; returns the claims.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        expect: Expect<'_>,
    ) -> Result<T, VerifyError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| VerifyError::Malformed(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(VerifyError::Malformed(format!(
                "algorithm {:?}",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| VerifyError::Malformed("no kid".to_owned()))?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| VerifyError::Malformed(format!("unknown key {kid}")))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        if let Some(issuer) = expect.issuer {
            validation.set_issuer(&[issuer]);
        }
        match expect.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        jsonwebtoken::decode::<T>(token, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| VerifyError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use secrecy::ExposeSecret;
    use serde_json::{Value, json};

    use super::*;

    fn key() -> &'static Arc<SigningKey> {
        static KEY: OnceLock<Arc<SigningKey>> = OnceLock::new();
        KEY.get_or_init(|| Arc::new(SigningKey::generate().unwrap()))
    }

    fn claims(exp_in: i64) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({"iss": "http://idp/realms/r", "aud": "ironvessel", "sub": "u", "exp": now + exp_in})
    }

    #[test]
    fn a_signed_token_verifies_and_names_its_key() {
        let ring = KeyRing::new(vec![key().clone()]);
        let token = key().sign(&claims(60)).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(key().kid()));
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let back: Value = ring
            .verify(
                &token,
                Expect {
                    issuer: Some("http://idp/realms/r"),
                    audience: Some("ironvessel"),
                },
            )
            .unwrap();
        assert_eq!(back["sub"], "u");
    }

    #[test]
    fn expired_tampered_and_foreign_tokens_do_not_verify() {
        let ring = KeyRing::new(vec![key().clone()]);
        let expired = key().sign(&claims(-1)).unwrap();
        assert!(ring.verify::<Value>(&expired, Expect::default()).is_err());
        let token = key().sign(&claims(60)).unwrap();
        let wrong_issuer = Expect {
            issuer: Some("http://other/realms/r"),
            audience: None,
        };
        assert!(ring.verify::<Value>(&token, wrong_issuer).is_err());
        let mut tampered = token.clone();
        tampered.insert(token.find('.').unwrap() + 3, 'x');
        assert!(ring.verify::<Value>(&tampered, Expect::default()).is_err());
        assert!(
            KeyRing::default()
                .verify::<Value>(&token, Expect::default())
                .is_err()
        );
    }

    #[test]
    fn a_key_survives_its_pem_and_keeps_its_kid() {
        let again = SigningKey::from_pem(key().private_pem().expose_secret()).unwrap();
        assert_eq!(again.kid(), key().kid());
        assert_eq!(again.jwk(), key().jwk());
        assert!(SigningKey::from_pem("-----BEGIN RSA PRIVATE KEY-----\nnope").is_err());
    }

    #[test]
    fn the_jwks_publishes_rs256_signature_keys() {
        let jwks = serde_json::to_value(KeyRing::new(vec![key().clone()]).jwks()).unwrap();
        let jwk = &jwks["keys"][0];
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(jwk["kid"], key().kid());
    }
}
