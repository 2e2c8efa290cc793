//! What the feed generators of every kind share (`boxoffice gen-feed`, tests and
//! benchmarks): the feed's shape, the pseudo-random sequence and the words drawn, so
//! that one shape and seed give the same sessions and zones in every rendition.

/// The size of a generated feed (every kind's generator takes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedShape {
    /// Events (Fever's `<base_event>`, the JSON rendition's shows).
    pub base_events: usize,
    /// Sessions of each event (Fever's `<event>`): one item each.
    pub events_per_base: usize,
    /// Zones of each session.
    pub zones: usize,
    /// Seed of the pseudo-random values.
    pub seed: u64,
}

/// SplitMix64: tiny, fast, and the same everywhere.
pub struct Rng(pub u64);

impl Rng {
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value below `bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }
}

/// Event titles the generators draw from.
pub const TITLES: &[&str] = &[
    "Concierto",
    "Teatro",
    "Monólogo",
    "Ópera",
    "Flamenco",
    "Jazz y Blues",
    "Musical",
    "Circo",
];
/// Zone names the generators draw from.
pub const ZONE_NAMES: &[&str] = &["Platea", "Grada", "Anfiteatro", "Palco", "Pista", "General"];
