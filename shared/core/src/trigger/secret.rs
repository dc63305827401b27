//! The webhook secret: a shared key whose value never reaches a log line, a `Debug` dump or an error message.

use std::fmt;

/// A webhook's shared secret (HMAC key, or GitLab's plain token). `Debug` and `Display` print `***`; there is
/// deliberately no `PartialEq`, whose comparison would not be constant-time.
#[derive(Clone)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Wraps a secret value; an empty value is allowed by the type but verifies nothing useful.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw bytes, for computing a MAC. Never log them.
    pub(crate) fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_print_the_value() {
        let secret = WebhookSecret::new("hunter2-very-secret");
        assert_eq!(format!("{secret:?}"), "WebhookSecret(***)");
        assert_eq!(secret.to_string(), "***");
        assert!(!format!("{secret:?}{secret}{secret:#?}").contains("hunter2"));
    }
}
