//! KMS: envelope encryption (`GenerateDataKey` / `Decrypt`) and the per-account caller-hash
//! keys (opened once per container; `GenerateMac` for accounts created before them).
//!
//! Data keys are cached per container, bounded by age and by number of messages, as the AWS
//! Encryption SDK's caching cryptographic materials manager does ([`CacheLimits`]): a data key
//! seals up to [`CacheLimits::max_messages`] numbers of one account for up to
//! [`CacheLimits::max_age`], and an opened data key is kept as long for the next message
//! sealed under it. KMS then sees about one `GenerateDataKey` and one `Decrypt` per account per
//! five minutes instead of one per call.

use super::sdk_error;
use crate::account::Account;
use crate::crypto::{self, Sealed};
use crate::crypto::{CALLBACK_NUMBER_PURPOSE, CALLER_HASH_KEY_PURPOSE};
use crate::phone::E164;
use crate::ports::{
    Applied, CallbackNumberSealer, NumberOpener, NumberProtector, PortError, SecretsVault,
};
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, MacAlgorithmSpec};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Encryption-context key binding a data key to its account.
const CONTEXT_KEY: &str = "account_id";

/// How long and how much a data key is reused (the AWS Encryption SDK's caching CMM limits).
///
/// Every number sealed under one data key carries the same wrapped key, so a data key that
/// leaks (a memory dump of the container) exposes at most `max_messages` numbers of one
/// account sealed within `max_age`; a random 96-bit nonce per number keeps AES-GCM far below
/// its 2^32-messages-per-key bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// A cached data key is not used after this age (seconds precision).
    pub max_age: Duration,
    /// A sealing data key seals at most this many numbers; 0 turns caching off.
    pub max_messages: u32,
    /// Opened data keys kept at once (the oldest goes first).
    pub max_entries: usize,
}

impl CacheLimits {
    /// 5 minutes, 1,000 numbers, 256 opened keys.
    pub const DEFAULT: CacheLimits = CacheLimits {
        max_age: Duration::from_secs(300),
        max_messages: 1000,
        max_entries: 256,
    };
    /// No caching: one KMS call per number sealed or opened.
    pub const OFF: CacheLimits = CacheLimits {
        max_age: Duration::ZERO,
        max_messages: 0,
        max_entries: 0,
    };

    /// [`CacheLimits::DEFAULT`], changed by `DATA_KEY_CACHE_SECONDS` (1–3600) and
    /// `DATA_KEY_CACHE_MESSAGES` (0–100000; 0 turns caching off). A value out of range is
    /// ignored (the default holds).
    pub fn from_env() -> CacheLimits {
        let var = |name: &str, max: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|v| *v <= max)
        };
        let mut limits = CacheLimits::DEFAULT;
        if let Some(secs) = var("DATA_KEY_CACHE_SECONDS", 3600).filter(|s| *s > 0) {
            limits.max_age = Duration::from_secs(secs);
        }
        if let Some(messages) = var("DATA_KEY_CACHE_MESSAGES", 100_000) {
            limits.max_messages = messages as u32;
        }
        limits
    }

    fn enabled(&self) -> bool {
        self.max_messages > 0 && !self.max_age.is_zero()
    }
}

/// A plaintext data key and its KMS-wrapped form.
struct DataKey {
    plaintext: Zeroizing<Vec<u8>>,
    wrapped: Vec<u8>,
    created: Instant,
    uses: u32,
}

/// The data keys of one container: per account, the one that seals; per (account, wrapped
/// key), the ones opened. Plaintext keys are zeroed when dropped.
#[derive(Default)]
pub struct KeyCache {
    sealing: Mutex<HashMap<String, DataKey>>,
    opening: Mutex<HashMap<(String, Vec<u8>), (Zeroizing<Vec<u8>>, Instant)>>,
    /// Opened caller-hash keys by account: (wrapped form, plaintext).
    hashing: Mutex<HashMap<String, (String, Zeroizing<Vec<u8>>)>>,
}

/// Caller-hash keys a container keeps at once (one per account it served; any goes first).
const MAX_HASH_KEYS: usize = 4096;

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCache(..)")
    }
}

impl KeyCache {
    /// The opened caller-hash key of `account_id`, if it was opened from `wrapped`.
    pub fn hash_key(&self, account_id: &str, wrapped: &str) -> Option<Zeroizing<Vec<u8>>> {
        let keys = self.hashing.lock().ok()?;
        let (kept, key) = keys.get(account_id)?;
        (kept == wrapped).then(|| key.clone())
    }

    /// Keep the opened caller-hash key of `account_id` (for the container's life).
    pub fn keep_hash_key(&self, account_id: &str, wrapped: &str, key: &[u8]) {
        if let Ok(mut keys) = self.hashing.lock() {
            if keys.len() >= MAX_HASH_KEYS && !keys.contains_key(account_id) {
                let any = keys.keys().next().cloned();
                if let Some(any) = any {
                    keys.remove(&any);
                }
            }
            keys.insert(
                account_id.to_string(),
                (wrapped.to_string(), Zeroizing::new(key.to_vec())),
            );
        }
    }

    /// The data key to seal one more number of `account_id` with at `now`, counted as used;
    /// `None` when there is none, or it is too old or used up (then forgotten).
    pub fn sealing_key(
        &self,
        account_id: &str,
        limits: CacheLimits,
        now: Instant,
    ) -> Option<(Zeroizing<Vec<u8>>, Vec<u8>)> {
        let mut keys = self.sealing.lock().ok()?;
        let key = keys.get_mut(account_id)?;
        if now.saturating_duration_since(key.created) >= limits.max_age
            || key.uses >= limits.max_messages
        {
            keys.remove(account_id);
            return None;
        }
        key.uses += 1;
        Some((key.plaintext.clone(), key.wrapped.clone()))
    }

    /// Keep a new sealing key of `account_id`, already used once.
    pub fn keep_sealing_key(
        &self,
        account_id: &str,
        plaintext: &[u8],
        wrapped: &[u8],
        limits: CacheLimits,
        now: Instant,
    ) {
        if !limits.enabled() {
            return;
        }
        if let Ok(mut keys) = self.sealing.lock() {
            keys.insert(
                account_id.to_string(),
                DataKey {
                    plaintext: Zeroizing::new(plaintext.to_vec()),
                    wrapped: wrapped.to_vec(),
                    created: now,
                    uses: 1,
                },
            );
        }
    }

    /// The plaintext of `wrapped` as KMS opened it for `account_id`, unless too old.
    pub fn opening_key(
        &self,
        account_id: &str,
        wrapped: &[u8],
        limits: CacheLimits,
        now: Instant,
    ) -> Option<Zeroizing<Vec<u8>>> {
        let mut keys = self.opening.lock().ok()?;
        let id = (account_id.to_string(), wrapped.to_vec());
        let (plaintext, opened) = keys.get(&id)?;
        if now.saturating_duration_since(*opened) >= limits.max_age {
            keys.remove(&id);
            return None;
        }
        Some(plaintext.clone())
    }

    /// Keep the plaintext KMS gave for `wrapped` under `account_id`; the oldest entry goes
    /// when [`CacheLimits::max_entries`] are held.
    pub fn keep_opening_key(
        &self,
        account_id: &str,
        wrapped: &[u8],
        plaintext: &[u8],
        limits: CacheLimits,
        now: Instant,
    ) {
        if !limits.enabled() || limits.max_entries == 0 {
            return;
        }
        if let Ok(mut keys) = self.opening.lock() {
            while keys.len() >= limits.max_entries {
                let Some(oldest) = keys
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(id, _)| id.clone())
                else {
                    break;
                };
                keys.remove(&oldest);
            }
            keys.insert(
                (account_id.to_string(), wrapped.to_vec()),
                (Zeroizing::new(plaintext.to_vec()), now),
            );
        }
    }
}

/// KMS adapter. `number_key_id` encrypts numbers; the secrets key (`with_secrets_key`) seals
/// webhook secrets and wraps caller-hash keys; `hash_key_id` (an HMAC_256 key) hashes the
/// callers of accounts created before per-account keys. Clones share one [`KeyCache`] (one per
/// container).
#[derive(Debug, Clone)]
pub struct Kms {
    client: Client,
    number_key_id: String,
    hash_key_id: String,
    secrets_key_id: Option<String>,
    cache: Arc<KeyCache>,
    limits: CacheLimits,
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
            cache: Arc::new(KeyCache::default()),
            limits: CacheLimits::from_env(),
        }
    }

    /// Cache data keys within `limits` ([`CacheLimits::OFF`]: one KMS call per number).
    pub fn with_cache_limits(mut self, limits: CacheLimits) -> Kms {
        self.limits = limits;
        self
    }

    /// Also seal and open webhook secrets, under `secrets_key_id`.
    pub fn with_secrets_key(mut self, secrets_key_id: impl Into<String>) -> Kms {
        self.secrets_key_id = Some(secrets_key_id.into());
        self
    }

    /// Open the connection to KMS at cold start ([`super::warm_up`]): `DescribeKey` on the
    /// hash key (`kms:DescribeKey`: the key's metadata, no key material; the hash key's policy
    /// delegates to IAM, where the number key's names its users and their uses only).
    pub async fn warm_up(&self) -> Result<(), PortError> {
        self.client
            .describe_key()
            .key_id(&self.hash_key_id)
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_error("kms", e))
    }

    fn secrets_key(&self) -> Result<&str, PortError> {
        self.secrets_key_id
            .as_deref()
            .ok_or_else(|| PortError::new("kms", "no secrets key configured (SECRETS_KEY_ID)"))
    }
}

impl Kms {
    /// AES-256-GCM of `plaintext` under the cached data key of (`account_id`, `purpose`)
    /// ([`CacheLimits`]), else a new one from `GenerateDataKey` (AES_256, context
    /// `account_id` and, if any, `purpose`), kept for the next ones. Associated data: the
    /// account id, then NUL and the purpose if any.
    async fn seal_under(
        &self,
        account_id: &str,
        purpose: Option<&str>,
        plaintext: &[u8],
    ) -> Result<String, PortError> {
        let now = Instant::now();
        let binding = binding(account_id, purpose);
        let (key, wrapped) = match self.cache.sealing_key(&binding, self.limits, now) {
            Some(key) => key,
            None => {
                let mut request = self
                    .client
                    .generate_data_key()
                    .key_id(&self.number_key_id)
                    .key_spec(DataKeySpec::Aes256)
                    .encryption_context(CONTEXT_KEY, account_id);
                if let Some(purpose) = purpose {
                    request = request.encryption_context(PURPOSE_KEY, purpose);
                }
                let out = request.send().await.map_err(|e| sdk_error("kms", e))?;
                let (Some(key), Some(wrapped)) = (out.plaintext(), out.ciphertext_blob()) else {
                    return Err(PortError::new("kms", "GenerateDataKey returned no key"));
                };
                self.cache.keep_sealing_key(
                    &binding,
                    key.as_ref(),
                    wrapped.as_ref(),
                    self.limits,
                    now,
                );
                (
                    Zeroizing::new(key.as_ref().to_vec()),
                    wrapped.as_ref().to_vec(),
                )
            }
        };
        let sealed = crypto::seal(&key, wrapped, binding.as_bytes(), plaintext)
            .map_err(|e| PortError::new("kms", e.to_string()))?;
        Ok(sealed.encode())
    }

    /// Inverse of [`Kms::seal_under`]: the data key opened before in this container (within
    /// [`CacheLimits::max_age`]), else `Decrypt` with the same context; then AES-256-GCM.
    /// A value that cannot be decoded or opened is [`Applied::Refused`] (never retried).
    async fn open_under(
        &self,
        account_id: &str,
        purpose: Option<&str>,
        sealed: &str,
    ) -> Result<E164, PortError> {
        let refused = |message: String| PortError::new("kms", message).applied(Applied::Refused);
        let sealed = Sealed::decode(sealed).map_err(|e| refused(e.to_string()))?;
        let now = Instant::now();
        let binding = binding(account_id, purpose);
        let key = match self
            .cache
            .opening_key(&binding, &sealed.encrypted_key, self.limits, now)
        {
            Some(key) => key,
            None => {
                let mut request = self
                    .client
                    .decrypt()
                    .key_id(&self.number_key_id)
                    .ciphertext_blob(Blob::new(sealed.encrypted_key.clone()))
                    .encryption_context(CONTEXT_KEY, account_id);
                if let Some(purpose) = purpose {
                    request = request.encryption_context(PURPOSE_KEY, purpose);
                }
                let out = request.send().await.map_err(|e| sdk_error("kms", e))?;
                let key = out
                    .plaintext()
                    .ok_or_else(|| PortError::new("kms", "Decrypt returned no plaintext"))?;
                self.cache.keep_opening_key(
                    &binding,
                    &sealed.encrypted_key,
                    key.as_ref(),
                    self.limits,
                    now,
                );
                Zeroizing::new(key.as_ref().to_vec())
            }
        };
        let clear =
            crypto::open(&key, binding.as_bytes(), &sealed).map_err(|e| refused(e.to_string()))?;
        let clear =
            String::from_utf8(clear).map_err(|_| refused("sealed number is not UTF-8".into()))?;
        Ok(E164::from_e164_unchecked(clear))
    }

    /// Open another number a prospect asked to be called on (`CallbackRequested.
    /// callback_number.sealed`, the `NUMBER#` item): `Decrypt` with context `account_id` +
    /// `purpose=callback-number`, associated data `{account_id}\0callback-number`.
    pub async fn open_callback_number(
        &self,
        account_id: &str,
        sealed: &str,
    ) -> Result<E164, PortError> {
        self.open_under(account_id, Some(CALLBACK_NUMBER_PURPOSE), sealed)
            .await
    }
}

/// Encryption-context key naming what a data key seals, when it is not a caller's number.
const PURPOSE_KEY: &str = "purpose";

impl Kms {
    /// The plaintext caller-hash key of `account_id` from its wrapped form: from this
    /// container's cache, else one `Decrypt` under the secrets key (context `account_id` +
    /// `purpose=caller-hash-key`), then kept for the container's life (a key never changes).
    ///
    /// Errors: the wrapped key is not base64, KMS refuses (wrong account, wrong key, no
    /// permission) or returns other than 32 bytes.
    pub async fn caller_hash_key(
        &self,
        account_id: &str,
        wrapped: &str,
    ) -> Result<Zeroizing<Vec<u8>>, PortError> {
        if let Some(key) = self.cache.hash_key(account_id, wrapped) {
            return Ok(key);
        }
        let blob = STANDARD
            .decode(wrapped)
            .map_err(|_| PortError::new("kms", "caller-hash key is not base64"))?;
        let key = self
            .secrets_decrypt(account_id, CALLER_HASH_KEY_PURPOSE, blob)
            .await?;
        if key.len() != crypto::CALLER_HASH_KEY_LEN {
            return Err(PortError::new(
                "kms",
                format!("caller-hash key is {} bytes, not 32", key.len()),
            ));
        }
        self.cache.keep_hash_key(account_id, wrapped, &key);
        Ok(key)
    }
}

/// What a data key is bound to: the account id, then NUL and the purpose if any. It is both
/// the AES-GCM associated data and the key of the data-key cache.
fn binding(account_id: &str, purpose: Option<&str>) -> String {
    match purpose {
        Some(purpose) => format!("{account_id}\0{purpose}"),
        None => account_id.to_string(),
    }
}

impl NumberProtector for Kms {
    /// A caller's number, under context `account_id` ([`Kms::seal_under`]; one
    /// `GenerateDataKey` per account per [`CacheLimits`]).
    async fn seal(&self, account_id: &str, number: &E164) -> Result<String, PortError> {
        self.seal_under(account_id, None, number.expose().as_bytes())
            .await
    }

    /// Under the account's caller-hash key, opened by one `Decrypt` per container
    /// ([`Kms::caller_hash_key`]); for an account without one, `GenerateMac` HMAC_SHA_256
    /// under the deployment's HMAC key over the same message. Lower-case hex.
    async fn hash(&self, account: &Account, number: &E164) -> Result<String, PortError> {
        let account_id = account.account_id.as_str();
        if let Some(wrapped) = &account.caller_hash_key {
            let key = self.caller_hash_key(account_id, wrapped).await?;
            return crypto::caller_hash(&key[..], account_id, number.expose())
                .map_err(|e| PortError::new("kms", e.to_string()));
        }
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
    /// A caller's number sealed by [`NumberProtector::seal`] ([`Kms::open_under`]).
    async fn open(&self, account_id: &str, sealed: &str) -> Result<E164, PortError> {
        self.open_under(account_id, None, sealed).await
    }
}

impl CallbackNumberSealer for Kms {
    /// Under context `account_id` + `purpose=callback-number`: the role that places callbacks
    /// (`CallbackNumberReaderRoleArn`) may open these and no caller's number.
    async fn seal_callback_number(
        &self,
        account_id: &str,
        number: &E164,
    ) -> Result<String, PortError> {
        self.seal_under(
            account_id,
            Some(CALLBACK_NUMBER_PURPOSE),
            number.expose().as_bytes(),
        )
        .await
    }
}

/// Encryption-context value binding sealed secrets to their purpose.
const SECRETS_PURPOSE: &str = "webhook-secrets";

impl Kms {
    /// `GenerateDataKey` AES_256 under the secrets key, context `account_id` + `purpose`:
    /// (plaintext, wrapped).
    async fn secrets_data_key(
        &self,
        account_id: &str,
        purpose: &str,
    ) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), PortError> {
        let out = self
            .client
            .generate_data_key()
            .key_id(self.secrets_key()?)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT_KEY, account_id)
            .encryption_context("purpose", purpose)
            .send()
            .await
            .map_err(|e| sdk_error("kms", e))?;
        let (Some(key), Some(wrapped)) = (out.plaintext(), out.ciphertext_blob()) else {
            return Err(PortError::new("kms", "GenerateDataKey returned no key"));
        };
        Ok((
            Zeroizing::new(key.as_ref().to_vec()),
            wrapped.as_ref().to_vec(),
        ))
    }

    /// `Decrypt` of `wrapped` under the secrets key, context `account_id` + `purpose`.
    async fn secrets_decrypt(
        &self,
        account_id: &str,
        purpose: &str,
        wrapped: Vec<u8>,
    ) -> Result<Zeroizing<Vec<u8>>, PortError> {
        let out = self
            .client
            .decrypt()
            .key_id(self.secrets_key()?)
            .ciphertext_blob(Blob::new(wrapped))
            .encryption_context(CONTEXT_KEY, account_id)
            .encryption_context("purpose", purpose)
            .send()
            .await
            .map_err(|e| sdk_error("kms", e))?;
        let key = out
            .plaintext()
            .ok_or_else(|| PortError::new("kms", "Decrypt returned no plaintext"))?;
        Ok(Zeroizing::new(key.as_ref().to_vec()))
    }
}

impl SecretsVault for Kms {
    /// `GenerateDataKey` AES_256 under the secrets key, context `account_id` +
    /// `purpose=caller-hash-key`; the plaintext is dropped, the wrapped key returned (base64).
    async fn new_caller_hash_key(&self, account_id: &str) -> Result<String, PortError> {
        let (_plaintext, wrapped) = self
            .secrets_data_key(account_id, CALLER_HASH_KEY_PURPOSE)
            .await?;
        Ok(STANDARD.encode(wrapped))
    }

    /// `GenerateDataKey` (context `account_id`, `purpose`) + AES-256-GCM.
    async fn seal_secrets(&self, account_id: &str, plaintext: &str) -> Result<String, PortError> {
        let (key, wrapped) = self.secrets_data_key(account_id, SECRETS_PURPOSE).await?;
        let aad = format!("{account_id}\0{SECRETS_PURPOSE}");
        let sealed = crypto::seal(&key, wrapped, aad.as_bytes(), plaintext.as_bytes())
            .map_err(|e| PortError::new("kms", e.to_string()))?;
        Ok(sealed.encode())
    }

    /// `Decrypt` (same context) + AES-256-GCM open.
    async fn open_secrets(&self, account_id: &str, sealed: &str) -> Result<String, PortError> {
        let sealed = Sealed::decode(sealed).map_err(|e| PortError::new("kms", e.to_string()))?;
        let key = self
            .secrets_decrypt(account_id, SECRETS_PURPOSE, sealed.encrypted_key.clone())
            .await?;
        let aad = format!("{account_id}\0{SECRETS_PURPOSE}");
        let clear = crypto::open(&key, aad.as_bytes(), &sealed)
            .map_err(|e| PortError::new("kms", e.to_string()))?;
        String::from_utf8(clear).map_err(|_| PortError::new("kms", "sealed secrets are not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: CacheLimits = CacheLimits {
        max_age: Duration::from_secs(300),
        max_messages: 3,
        max_entries: 2,
    };

    #[test]
    fn a_sealing_key_serves_its_messages_then_its_age_then_goes() {
        let cache = KeyCache::default();
        let t0 = Instant::now();
        assert!(cache.sealing_key("acme", LIMITS, t0).is_none(), "empty");
        cache.keep_sealing_key("acme", &[7; 32], b"wrapped-1", LIMITS, t0);
        // Used once when kept: two more numbers, then a new key.
        for _ in 0..2 {
            let (key, wrapped) = cache.sealing_key("acme", LIMITS, t0).unwrap();
            assert_eq!(
                (key.as_slice(), wrapped.as_slice()),
                (&[7; 32][..], &b"wrapped-1"[..])
            );
        }
        assert!(cache.sealing_key("acme", LIMITS, t0).is_none(), "used up");
        // Another account never gets it.
        cache.keep_sealing_key("acme", &[8; 32], b"wrapped-2", LIMITS, t0);
        assert!(cache.sealing_key("other", LIMITS, t0).is_none());
        // Age: usable until just before max_age.
        let almost = t0 + Duration::from_secs(299);
        assert!(cache.sealing_key("acme", LIMITS, almost).is_some());
        assert!(
            cache
                .sealing_key("acme", LIMITS, t0 + Duration::from_secs(300))
                .is_none(),
            "too old"
        );
    }

    #[test]
    fn opened_keys_are_per_account_bounded_in_age_and_number() {
        let cache = KeyCache::default();
        let t0 = Instant::now();
        cache.keep_opening_key("acme", b"w1", &[1; 32], LIMITS, t0);
        assert_eq!(
            cache
                .opening_key("acme", b"w1", LIMITS, t0)
                .unwrap()
                .as_slice(),
            &[1; 32]
        );
        assert!(
            cache.opening_key("other", b"w1", LIMITS, t0).is_none(),
            "the context is part of the key"
        );
        cache.keep_opening_key("acme", b"w2", &[2; 32], LIMITS, t0 + Duration::from_secs(1));
        cache.keep_opening_key("acme", b"w3", &[3; 32], LIMITS, t0 + Duration::from_secs(2));
        assert!(
            cache.opening_key("acme", b"w1", LIMITS, t0).is_none(),
            "the oldest went"
        );
        assert!(cache.opening_key("acme", b"w3", LIMITS, t0).is_some());
        assert!(
            cache
                .opening_key("acme", b"w3", LIMITS, t0 + Duration::from_secs(302))
                .is_none(),
            "too old"
        );
    }

    #[test]
    fn off_keeps_nothing() {
        let cache = KeyCache::default();
        let t0 = Instant::now();
        cache.keep_sealing_key("acme", &[7; 32], b"w", CacheLimits::OFF, t0);
        cache.keep_opening_key("acme", b"w", &[7; 32], CacheLimits::OFF, t0);
        assert!(cache.sealing_key("acme", CacheLimits::OFF, t0).is_none());
        assert!(
            cache
                .opening_key("acme", b"w", CacheLimits::OFF, t0)
                .is_none()
        );
    }
}
