//! The two macros that declare the kernel's numbered families — opcodes, register ops,
//! setup, feature, enter and SQE flags — once each: every constant with its doc, and
//! from the same list its name table and a lister macro for tests that must visit every
//! member (the cross-check against `linux-raw-sys`).
//!
//! A name is the constant's own identifier less the family's prefix
//! (`IORING_OP_READ_FIXED` is `"READ_FIXED"`), cut at compile time, so no name is
//! written twice.

/// The constant's identifier `full` without `prefix`, at compile time; a build error if
/// `full` does not start with `prefix`.
pub(crate) const fn strip_prefix(prefix: &'static str, full: &'static str) -> &'static str {
    let (p, f) = (prefix.as_bytes(), full.as_bytes());
    assert!(f.len() > p.len(), "a name is longer than its prefix");
    let mut i = 0;
    while i < p.len() {
        assert!(
            p[i] == f[i],
            "a constant does not start with its family's prefix"
        );
        i += 1;
    }
    match core::str::from_utf8(f.split_at(p.len()).1) {
        Ok(name) => name,
        Err(_) => panic!("identifiers are ASCII"),
    }
}

/// Declares a family of numbered values (an `enum` in the uapi: 0, 1, 2, …): each
/// constant, the one-past-the-end constant, the names indexed by value (checked at
/// compile time: each value is its index), and a lister macro.
///
/// ```text
/// numbered! {
///     /// doc of the name table
///     names OP_NAMES, last IORING_OP_LAST, lister io_uring_ops: u8, prefix "IORING_OP_";
///     /// `IORING_OP_NOP`.
///     IORING_OP_NOP = 0;
/// }
/// ```
macro_rules! numbered {
    (
        $d:tt
        $(#[$names_meta:meta])*
        names $names:ident, last $last:ident, lister $lister:ident: $ty:ty, prefix $prefix:literal;
        $( $(#[$meta:meta])* $name:ident = $value:literal; )*
    ) => {
        $( $(#[$meta])* pub const $name: $ty = $value; )*

        #[doc = concat!("One past the last value of the family (`", stringify!($last), "`).")]
        pub const $last: $ty = [$($value),*].len() as $ty;

        $(#[$names_meta])*
        pub const $names: [&str; $last as usize] =
            [$($crate::declare::strip_prefix($prefix, stringify!($name))),*];

        // Each value is its position: the name table is indexed by value.
        const _: () = {
            let values = [$($name),*];
            let mut i = 0;
            while i < values.len() {
                assert!(values[i] as usize == i, "values must run 0, 1, 2, … in order");
                i += 1;
            }
        };

        #[doc = concat!(
            "Calls `callback!(args… ", stringify!($($name),*),
            ")`: every constant of the family, for a test that must visit each."
        )]
        #[macro_export]
        macro_rules! $lister {
            ($d callback:ident $d(, $d($d args:tt)*)?) => {
                $d callback!($d($d($d args)*)? $($name),*)
            };
        }
    };
}

/// Declares a family of flag bits: each constant, a table of `(bit, name)` in
/// declaration order, the mask of all of them, and a lister macro.
macro_rules! flags {
    (
        $d:tt
        $(#[$table_meta:meta])*
        table $table:ident, mask $mask:ident, lister $lister:ident: $ty:ty, prefix $prefix:literal;
        $( $(#[$meta:meta])* $name:ident = $value:expr; )*
    ) => {
        $( $(#[$meta])* pub const $name: $ty = $value; )*

        $(#[$table_meta])*
        pub const $table: &[($ty, &str)] =
            &[$(($name, $crate::declare::strip_prefix($prefix, stringify!($name)))),*];

        #[doc = concat!("Every bit of [`", stringify!($table), "`] or-ed together.")]
        pub const $mask: $ty = 0 $(| $name)*;

        #[doc = concat!(
            "Calls `callback!(args… ", stringify!($($name),*),
            ")`: every flag of the family, for a test that must visit each."
        )]
        #[macro_export]
        macro_rules! $lister {
            ($d callback:ident $d(, $d($d args:tt)*)?) => {
                $d callback!($d($d($d args)*)? $($name),*)
            };
        }
    };
}

/// The names of the bits of `flags` found in `table` (a flag table of this crate),
/// joined by `|`; bits the table lacks in hex; `"none"` for no bit.
///
/// ```
/// use uring_sys::{IORING_SETUP_FLAG_NAMES, IORING_SETUP_SQPOLL, flag_names};
/// assert_eq!(flag_names(IORING_SETUP_SQPOLL | 1 << 30, IORING_SETUP_FLAG_NAMES), "SQPOLL|0x40000000");
/// ```
pub fn flag_names<T: Copy + Into<u64>>(flags: T, table: &[(T, &str)]) -> String {
    let flags: u64 = flags.into();
    let mut out = Vec::new();
    let mut rest = flags;
    for &(bit, name) in table {
        let bit: u64 = bit.into();
        if flags & bit != 0 {
            out.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        out.push(format!("{rest:#x}"));
    }
    if out.is_empty() {
        "none".to_string()
    } else {
        out.join("|")
    }
}

#[cfg(test)]
mod tests {
    use super::strip_prefix;

    #[test]
    fn strips_the_prefix() {
        assert_eq!(
            strip_prefix("IORING_OP_", "IORING_OP_READ_FIXED"),
            "READ_FIXED"
        );
        assert_eq!(
            strip_prefix("IORING_", "IORING_UNREGISTER_FILES"),
            "UNREGISTER_FILES"
        );
    }

    #[test]
    #[should_panic(expected = "prefix")]
    fn refuses_a_foreign_constant() {
        strip_prefix("IORING_OP_", "IORING_SETUP_SQPOLL");
    }
}
