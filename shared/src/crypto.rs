//! Envelope encryption of phone numbers and random identifiers.
//!
//! A number is sealed with AES-256-GCM (RustCrypto `aes-gcm`) under a fresh data key from KMS
//! `GenerateDataKey`; the KMS-encrypted data key travels with the ciphertext. The account id is
//! both the KMS encryption context and the AEAD associated data, so a sealed number cannot be
//! moved to another account's items and still open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;

/// The `purpose` encryption-context value (and associated-data suffix) of another number a
/// prospect asks to be called on: it keeps those apart from callers' numbers in the key policy.
pub const CALLBACK_NUMBER_PURPOSE: &str = "callback-number";

/// The `purpose` encryption-context value of an account's caller-hash key (sealed under the
/// secrets key, kept in the account item): only the functions that hash callers may open it.
pub const CALLER_HASH_KEY_PURPOSE: &str = "caller-hash-key";

/// Length of a caller-hash key: 32 bytes (256 bits, HMAC-SHA-256's block-size-safe key).
pub const CALLER_HASH_KEY_LEN: usize = 32;

/// The keyed hash of a caller within one account: HMAC-SHA-256 (RFC 2104, RustCrypto `hmac`)
/// under the account's caller-hash key, over `account_id` NUL `e164`, as lower-case hex (64
/// characters). The message is the one KMS `GenerateMac` hashes for accounts created before
/// per-account keys, so both schemes read the same input.
///
/// Errors: [`CryptoError::KeyLength`] when `key` is not [`CALLER_HASH_KEY_LEN`] bytes.
pub fn caller_hash(key: &[u8], account_id: &str, e164: &str) -> Result<String, CryptoError> {
    use hmac::Mac;
    if key.len() != CALLER_HASH_KEY_LEN {
        return Err(CryptoError::KeyLength(key.len()));
    }
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key)
        .map_err(|_| CryptoError::KeyLength(0))?;
    mac.update(account_id.as_bytes());
    mac.update(b"\0");
    mac.update(e164.as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// Format tag of [`Sealed::encode`]; bump it if the layout changes.
const VERSION: &str = "v1";

/// A number sealed under a KMS data key.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The data key as KMS encrypted it (`CiphertextBlob`).
    pub encrypted_key: Vec<u8>,
    /// 96-bit GCM nonce, random per message.
    pub nonce: [u8; 12],
    /// AES-256-GCM ciphertext with its 16-byte tag.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealed(..)")
    }
}

/// Why sealing or opening failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("data key must be 32 bytes (AES-256), got {0}")]
    KeyLength(usize),
    #[error("sealed value is not in the {VERSION} format")]
    Format,
    #[error("decryption failed (wrong key, wrong account or tampered ciphertext)")]
    Open,
}

/// Encrypt `plaintext` with `data_key` (32 bytes), binding it to `aad` (the account id).
pub fn seal(
    data_key: &[u8],
    encrypted_key: Vec<u8>,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Sealed, CryptoError> {
    let cipher =
        Aes256Gcm::new_from_slice(data_key).map_err(|_| CryptoError::KeyLength(data_key.len()))?;
    let mut nonce = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut nonce);
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Open)?;
    Ok(Sealed {
        encrypted_key,
        nonce,
        ciphertext,
    })
}

/// Decrypt a [`Sealed`] value with the plaintext data key KMS returned for its `encrypted_key`.
pub fn open(data_key: &[u8], aad: &[u8], sealed: &Sealed) -> Result<Vec<u8>, CryptoError> {
    let cipher =
        Aes256Gcm::new_from_slice(data_key).map_err(|_| CryptoError::KeyLength(data_key.len()))?;
    cipher
        .decrypt(
            Nonce::from_slice(&sealed.nonce),
            Payload {
                msg: &sealed.ciphertext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Open)
}

impl Sealed {
    /// One string for a DynamoDB attribute: `v1.<b64 encrypted key>.<b64 nonce>.<b64 ciphertext>`.
    pub fn encode(&self) -> String {
        format!(
            "{VERSION}.{}.{}.{}",
            STANDARD.encode(&self.encrypted_key),
            STANDARD.encode(self.nonce),
            STANDARD.encode(&self.ciphertext)
        )
    }

    /// Inverse of [`Sealed::encode`].
    pub fn decode(s: &str) -> Result<Sealed, CryptoError> {
        let mut parts = s.split('.');
        if parts.next() != Some(VERSION) {
            return Err(CryptoError::Format);
        }
        let mut next = || {
            parts
                .next()
                .and_then(|p| STANDARD.decode(p).ok())
                .ok_or(CryptoError::Format)
        };
        let encrypted_key = next()?;
        let nonce: [u8; 12] = next()?.try_into().map_err(|_| CryptoError::Format)?;
        let ciphertext = next()?;
        Ok(Sealed {
            encrypted_key,
            nonce,
            ciphertext,
        })
    }
}

/// A new unguessable token for booking links: 128 random bits, base64url without padding
/// (22 characters), from the OS-seeded CSPRNG.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new identifier (messages, bookings): 96 random bits, lower-case hex, with a prefix.
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_hash_is_hmac_sha256_of_account_nul_number() {
        // Known answer from Python's hmac module with the same key and message.
        let key: Vec<u8> = (0u8..32).collect();
        assert_eq!(
            caller_hash(&key, "acme", "+33600000001").unwrap(),
            "a603f2cb9da81a27d57ba12ddcd6b7a0baf28a07ee210bc134c137f2d81f5f91"
        );
        assert_ne!(
            caller_hash(&key, "acme", "+33600000001").unwrap(),
            caller_hash(&key, "acmf", "+33600000001").unwrap()
        );
        assert_eq!(
            caller_hash(&key[..16], "acme", "+33600000001"),
            Err(CryptoError::KeyLength(16))
        );
    }

    #[test]
    fn seal_open_round_trip_and_binding_to_account() {
        let key = [7u8; 32];
        let sealed = seal(&key, b"wrapped".to_vec(), b"acme", b"+33600000001").unwrap();
        assert_eq!(open(&key, b"acme", &sealed).unwrap(), b"+33600000001");
        assert_eq!(open(&key, b"other", &sealed), Err(CryptoError::Open));
        assert_eq!(open(&[8u8; 32], b"acme", &sealed), Err(CryptoError::Open));
        let decoded = Sealed::decode(&sealed.encode()).unwrap();
        assert_eq!(decoded, sealed);
        assert!(!sealed.encode().contains("600000001"));
    }

    #[test]
    fn tampering_is_detected() {
        let key = [1u8; 32];
        let mut sealed = seal(&key, vec![1], b"a", b"+33600000002").unwrap();
        sealed.ciphertext[0] ^= 1;
        assert_eq!(open(&key, b"a", &sealed), Err(CryptoError::Open));
        assert_eq!(Sealed::decode("v2.AA.AA.AA"), Err(CryptoError::Format));
        assert_eq!(Sealed::decode("v1.AA.AAAA.AA"), Err(CryptoError::Format));
        assert_eq!(
            seal(&[0u8; 16], vec![], b"a", b"x"),
            Err(CryptoError::KeyLength(16))
        );
    }

    #[test]
    fn tokens_are_128_bits_and_distinct() {
        let a = new_token();
        assert_eq!(a.len(), 22);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 16);
        assert_ne!(a, new_token());
        assert!(new_id("msg").starts_with("msg_"));
        assert_eq!(new_id("msg").len(), 4 + 24);
    }
}
