//! KMS: envelope encryption (`GenerateDataKey` / `Decrypt`) and caller hashes (`GenerateMac`).

use super::sdk_error;
use crate::crypto::{self, Sealed};
use crate::phone::E164;
use crate::ports::{Applied, NumberOpener, NumberProtector, PortError, SecretsVault};
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, MacAlgorithmSpec};

/// Encryption-context key binding a data key to its account.
const CONTEXT_KEY: &str = "account_id";

/// KMS adapter. `number_key_id` encrypts, `hash_key_id` (an HMAC_256 key) hashes.
#[derive(Debug, Clone)]
pub struct Kms {
    client: Client,
    number_key_id: String,
    hash_key_id: String,
    secrets_key_id: Option<String>,
}

impl Kms {
    pub fn new(
        client: Client,
        number_key_id: impl Into<String>,
        hash_key_id: impl Into<String>,
    ) -> Kms {
        Kms {
            client,
            number_key_id: number_key_id.into(),
            hash_key_id: hash_key_id.into(),
            secrets_key_id: None,
        }
    }

    /// Also seal and open webhook secrets, under `secrets_key_id`.
    pub fn with_secrets_key(mut self, secrets_key_id: impl Into<String>) -> Kms {
        self.secrets_key_id = Some(secrets_key_id.into());
        self
    }

    fn secrets_key(&self) -> Result<&str, PortError> {
        self.secrets_key_id
            .as_deref()
            .ok_or_else(|| PortError::new("kms", "no secrets key configured (SECRETS_KEY_ID)"))
    }
}

impl NumberProtector for Kms {
    /// One `GenerateDataKey` (AES_256, context `account_id`) per number, then AES-256-GCM
    /// locally; the plaintext data key is dropped when this returns.
    async fn seal(&self, account_id: &str, number: &E164) -> Result<String, PortError> {
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.number_key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT_KEY, account_id)
            .send()
            .await
            .map_err(|e| sdk_error("kms", e))?;
        let (Some(plaintext), Some(wrapped)) = (out.plaintext(), out.ciphertext_blob()) else {
            return Err(PortError::new("kms", "GenerateDataKey returned no key"));
        };
        let sealed = crypto::seal(
            plaintext.as_ref(),
            wrapped.as_ref().to_vec(),
            account_id.as_bytes(),
            number.expose().as_bytes(),
        )
        .map_err(|e| PortError::new("kms", e.to_string()))?;
        Ok(sealed.encode())
    }

    /// `GenerateMac` HMAC_SHA_256 over `account_id` NUL `E.164`; lower-case hex.
    async fn hash(&self, account_id: &str, number: &E164) -> Result<String, PortError> {
        let message = format!("{account_id}\0{}", number.expose());
        let out = self
            .client
            .generate_mac()
            .key_id(&self.hash_key_id)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(message.into_bytes()))
            .send()
            .await
            .map_err(|e| sdk_error("kms", e))?;
        let mac = out
            .mac()
            .ok_or_else(|| PortError::new("kms", "GenerateMac returned no MAC"))?;
        Ok(hex::encode(mac.as_ref()))
    }
}

impl NumberOpener for Kms {
    /// `Decrypt` of the wrapped data key with context `account_id`, then AES-256-GCM open.
    async fn open(&self, account_id: &str, sealed: &str) -> Result<E164, PortError> {
        // A value that cannot be decoded or opened never will be: refused, not retried.
        let refused = |message: String| PortError::new("kms", message).applied(Applied::Refused);
        let sealed = Sealed::decode(sealed).map_err(|e| refused(e.to_string()))?;
        let out = self
            .client
            .decrypt()
            .key_id(&self.number_key_id)
            .ciphertext_blob(Blob::new(sealed.encrypted_key.clone()))
            .encryption_context(CONTEXT_KEY, account_id)
            .send()
            .await
            .map_err(|e| sdk_error("kms", e))?;
        let key = out
            .plaintext()
            .ok_or_else(|| PortError::new("kms", "Decrypt returned no plaintext"))?;
        let clear = crypto::open(key.as_ref(), account_id.as_bytes(), &sealed)
            .map_err(|e| refused(e.to_string()))?;
        let clear =
            String::from_utf8(clear).map_err(|_| refused("sealed number is not UTF-8".into()))?;
        Ok(E164::from_e164_unchecked(clear))
    }
}

/// Encryption-context value binding sealed secrets to their purpose.
const SECRETS_PURPOSE: &str = "webhook-secrets";

impl SecretsVault for Kms {
    /// `GenerateDataKey` (context `account_id`, `purpose`) + AES-256-GCM.
    async fn seal_secrets(&self, account_id: &str, plaintext: &str) -> Result<String, PortError> {
        let out = self
            .client
            .generate_data_key()
            .key_id(self.secrets_key()?)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT_KEY, account_id)
            .encryption_context("purpose", SECRETS_PURPOSE)
            .send()
            .await
            .map_err(|e| sdk_error("kms", e))?;
        let (Some(key), Some(wrapped)) = (out.plaintext(), out.ciphertext_blob()) else {
            return Err(PortError::new("kms", "GenerateDataKey returned no key"));
        };
        let aad = format!("{account_id}\0{SECRETS_PURPOSE}");
        let sealed = crypto::seal(
            key.as_ref(),
            wrapped.as_ref().to_vec(),
            aad.as_bytes(),
            plaintext.as_bytes(),
        )
        .map_err(|e| PortError::new("kms", e.to_string()))?;
        Ok(sealed.encode())
    }

    /// `Decrypt` (same context) + AES-256-GCM open.
    async fn open_secrets(&self, account_id: &str, sealed: &str) -> Result<String, PortError> {
        let sealed = Sealed::decode(sealed).map_err(|e| PortError::new("kms", e.to_string()))?;
        let out = self
            .client
            .decrypt()
            .key_id(self.secrets_key()?)
            .ciphertext_blob(Blob::new(sealed.encrypted_key.clone()))
            .encryption_context(CONTEXT_KEY, account_id)
            .encryption_context("purpose", SECRETS_PURPOSE)
            .send()
            .await
            .map_err(|e| sdk_error("kms", e))?;
        let key = out
            .plaintext()
            .ok_or_else(|| PortError::new("kms", "Decrypt returned no plaintext"))?;
        let aad = format!("{account_id}\0{SECRETS_PURPOSE}");
        let clear = crypto::open(key.as_ref(), aad.as_bytes(), &sealed)
            .map_err(|e| PortError::new("kms", e.to_string()))?;
        String::from_utf8(clear).map_err(|_| PortError::new("kms", "sealed secrets are not UTF-8"))
    }
}
