//! A macro for CodeBuild's string enums: the variants, their wire names, and the list used in error messages.

/// Declares a `Copy` enum with `as_str` and an `OPTIONS` table of `(wire name, variant)`.
macro_rules! codebuild_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value with its CodeBuild name.
            pub const OPTIONS: &'static [(&'static str, $name)] = &[$(($text, $name::$variant)),+];

            /// CodeBuild's name for the value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use codebuild_enum;
