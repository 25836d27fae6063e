//! Counter-based randomness. Every row draws from a generator of its own, keyed by the
//! seed, the kind of row and the row's index, so a row never depends on which rows were
//! made before it: `--jobs`, `--shard` and `--resume` cannot change the data.

use rand::SeedableRng as _;
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

/// What a generator is for; each kind is an independent stream of generators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    User,
    UserId,
    Address,
    Product,
    Payment,
    PaymentLines,
    Order,
    Cart,
}

impl Kind {
    /// A fixed tag per kind; changing one changes every row of that kind.
    fn tag(self) -> u64 {
        match self {
            Self::User => 0x7573_6572,
            Self::UserId => 0x7573_6964,
            Self::Address => 0x6164_6472,
            Self::Product => 0x7072_6f64,
            Self::Payment => 0x7061_796d,
            Self::PaymentLines => 0x706c_696e,
            Self::Order => 0x6f72_6472,
            Self::Cart => 0x6361_7274,
        }
    }
}

/// SplitMix64's finaliser: a bijective mix, so distinct inputs stay distinct.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The 64-bit key of row `index` of `kind` under `seed`.
fn key(seed: u64, kind: Kind, index: u64) -> u64 {
    mix(mix(mix(seed).wrapping_add(kind.tag())).wrapping_add(index))
}

/// The generator of row `index` of `kind`.
pub(crate) fn rng(seed: u64, kind: Kind, index: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(key(seed, kind, index))
}

/// A version-4-shaped UUID derived from the seed and `index`.
pub(crate) fn uuid(seed: u64, kind: Kind, index: u64) -> Uuid {
    let high = key(seed, kind, index);
    let low = mix(high ^ 0x5eed_5eed_5eed_5eed);
    let bits = (u128::from(high) << 64) | u128::from(low);
    uuid::Builder::from_random_bytes(bits.to_be_bytes()).into_uuid()
}

#[cfg(test)]
mod tests {
    use rand::Rng as _;

    use super::*;

    #[test]
    fn the_same_row_gets_the_same_numbers_whatever_came_before() {
        let first: u64 = rng(7, Kind::User, 42).random();
        let _ = rng(7, Kind::User, 41).random::<u64>();
        assert_eq!(rng(7, Kind::User, 42).random::<u64>(), first);
    }

    #[test]
    fn seeds_kinds_and_indexes_give_different_streams() {
        let base: u64 = rng(7, Kind::User, 42).random();
        assert_ne!(rng(8, Kind::User, 42).random::<u64>(), base);
        assert_ne!(rng(7, Kind::Address, 42).random::<u64>(), base);
        assert_ne!(rng(7, Kind::User, 43).random::<u64>(), base);
    }

    #[test]
    fn derived_uuids_are_stable_version_4_and_distinct() {
        let id = uuid(1, Kind::UserId, 0);
        assert_eq!(id, uuid(1, Kind::UserId, 0));
        assert_eq!(id.get_version_num(), 4);
        assert_ne!(id, uuid(1, Kind::UserId, 1));
        assert_ne!(id, uuid(2, Kind::UserId, 0));
    }
}
