//! One layer's key-value cache in CPU memory, laid out for the attention kernel (`attention`)
//! rather than as candle tensors. Keys are kept turned, a tile of [`KEY_TILE`] positions at a
//! time: half-precision ones as [dim][position], so that scoring a query against a tile is a
//! broadcast and a multiply-add per dimension over consecutive keys (no horizontal sums, and
//! nothing to turn at each token); 8-bit ones as [dim / 4][position][4], so that one integer
//! dot-product instruction takes four dims of each of 16 keys (`int8_scores`). Values are
//! kept as rows, [position][dim], which is how the weighted sum reads them.

use half::f16;
use half::slice::HalfFloatSliceExt;

use super::q8::{self, Q8Block};

/// Positions in one turned key tile.
pub(crate) const KEY_TILE: usize = 64;

/// Values per scale in an 8-bit cache.
pub(crate) const Q8_BLOCK: usize = q8::BLOCK;

/// Dims of one key side by side in an 8-bit key tile.
pub(crate) const KEY_GROUP: usize = 4;

/// How a cache holds keys and values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CacheKind {
    /// Half precision, as llama.cpp keeps them by default.
    #[default]
    Half,
    /// Eight bits per value with a scale per 32 (llama.cpp's `q8_0`): half the memory and half
    /// the bytes read per decoded token, and keys scored by integer dot products, so that
    /// decoding after thousands of tokens keeps most of its short-prompt speed (the choice for
    /// long contexts). Outputs differ from the half-precision cache's by its rounding. CPU only.
    Q8,
}

impl std::str::FromStr for CacheKind {
    type Err = String;

    /// llama.cpp's names: `f16`, `q8_0`.
    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "f16" => Ok(CacheKind::Half),
            "q8_0" => Ok(CacheKind::Q8),
            other => Err(format!("unknown key-value cache type `{other}` (expected f16 or q8_0)")),
        }
    }
}

/// Elements of one kind (keys or values) for every key-value head.
enum Elements {
    Half(Vec<f16>),
    /// Values with one scale per [`Q8_BLOCK`] of a row: a value is `value × scale`.
    Q8 {
        values: Vec<i8>,
        scales: Vec<f32>,
    },
}

impl Elements {
    fn new(kind: CacheKind) -> Self {
        match kind {
            CacheKind::Half => Elements::Half(Vec::new()),
            CacheKind::Q8 => Elements::Q8 { values: Vec::new(), scales: Vec::new() },
        }
    }

    /// The same elements in buffers whose heads are `stride` elements apart (scales
    /// `stride / Q8_BLOCK`), keeping the first `keep` of each of `heads` heads.
    fn regrow(&self, heads: usize, stride: usize, keep: usize) -> Self {
        let old_stride = |len: usize| len / heads.max(1);
        match self {
            Elements::Half(values) => {
                Elements::Half(regrow(values, heads, old_stride(values.len()), stride, keep))
            }
            Elements::Q8 { values, scales } => Elements::Q8 {
                values: regrow(values, heads, old_stride(values.len()), stride, keep),
                scales: regrow(
                    scales,
                    heads,
                    old_stride(scales.len()),
                    stride / Q8_BLOCK,
                    keep / Q8_BLOCK,
                ),
            },
        }
    }
}

/// `heads` runs of `old_stride` elements moved `stride` apart, the first `keep` of each kept.
fn regrow<T: Copy + Default>(
    old: &[T],
    heads: usize,
    old_stride: usize,
    stride: usize,
    keep: usize,
) -> Vec<T> {
    let mut new = vec![T::default(); heads * stride];
    if keep > 0 {
        for (to, from) in new.chunks_exact_mut(stride).zip(old.chunks_exact(old_stride)) {
            to[..keep].copy_from_slice(&from[..keep]);
        }
    }
    new
}

/// One layer's keys and values for `capacity` positions of each key-value head.
pub(crate) struct LayerCache {
    kv_heads: usize,
    head_dim: usize,
    /// Positions per head, a multiple of [`KEY_TILE`].
    capacity: usize,
    /// Per head and tile: half precision [dim][position]; 8-bit [dim / 4][position][4], scales
    /// [dim block][position].
    keys: Elements,
    /// [head][position][dim]; 8-bit scales [head][position][dim block].
    values: Elements,
}

impl LayerCache {
    /// An empty cache; an 8-bit one needs a head width that is a multiple of [`Q8_BLOCK`].
    pub(crate) fn new(kind: CacheKind, kv_heads: usize, head_dim: usize) -> Self {
        LayerCache {
            kv_heads,
            head_dim,
            capacity: 0,
            keys: Elements::new(kind),
            values: Elements::new(kind),
        }
    }

    /// Key-value heads.
    pub(crate) fn kv_heads(&self) -> usize {
        self.kv_heads
    }

    /// Width of a head.
    pub(crate) fn head_dim(&self) -> usize {
        self.head_dim
    }

    /// Makes room for `positions` per head (rounded up to a whole tile), keeping the first
    /// `held`.
    pub(crate) fn grow(&mut self, positions: usize, held: usize) {
        let capacity = positions.div_ceil(KEY_TILE) * KEY_TILE;
        if capacity <= self.capacity {
            return;
        }
        let (heads, d) = (self.kv_heads, self.head_dim);
        let kept_tiles = held.div_ceil(KEY_TILE) * KEY_TILE;
        self.keys = self.keys.regrow(heads, capacity * d, kept_tiles * d);
        self.values = self.values.regrow(heads, capacity * d, held * d);
        self.capacity = capacity;
    }

    /// Writes new keys and values (each kv_heads × `len` × head_dim, `f32`) at positions
    /// `start..start + len`, which must be within the capacity.
    pub(crate) fn store(&mut self, keys: &[f32], values: &[f32], start: usize, len: usize) {
        let (d, capacity) = (self.head_dim, self.capacity);
        // Each new row with its head and position.
        fn rows(
            data: &[f32],
            d: usize,
            start: usize,
            len: usize,
        ) -> impl Iterator<Item = (usize, usize, &[f32])> {
            data.chunks_exact(d).enumerate().map(move |(i, row)| (i / len, start + i % len, row))
        }
        let rows = |data| rows(data, d, start, len);
        // The start of position `t`'s tile in a buffer with `width` elements per position.
        let tile = move |width: usize, kv: usize, t: usize| {
            (kv * capacity + t / KEY_TILE * KEY_TILE) * width
        };
        let (t_in, group) = (|t: usize| t % KEY_TILE, KEY_GROUP);
        match &mut self.keys {
            Elements::Half(cache) => {
                for (kv, t, row) in rows(keys) {
                    for (j, value) in row.iter().enumerate() {
                        cache[tile(d, kv, t) + j * KEY_TILE + t_in(t)] = f16::from_f32(*value);
                    }
                }
            }
            Elements::Q8 { values: cache, scales } => {
                for (kv, t, row) in rows(keys) {
                    for (b, part) in row.chunks_exact(Q8_BLOCK).enumerate() {
                        let block = Q8Block::quantise(part);
                        scales[tile(d / Q8_BLOCK, kv, t) + b * KEY_TILE + t_in(t)] = block.d;
                        for (i, value) in block.qs.iter().enumerate() {
                            let j = b * Q8_BLOCK + i;
                            let at = (j / group * KEY_TILE + t_in(t)) * group + j % group;
                            cache[tile(d, kv, t) + at] = *value;
                        }
                    }
                }
            }
        }
        let row_at = |kv: usize, t: usize| (kv * capacity + t) * d;
        match &mut self.values {
            Elements::Half(cache) => {
                for (kv, t, row) in rows(values) {
                    cache[row_at(kv, t)..][..d].convert_from_f32_slice(row);
                }
            }
            Elements::Q8 { values: cache, scales } => {
                for (kv, t, row) in rows(values) {
                    let at = row_at(kv, t);
                    for (b, part) in row.chunks_exact(Q8_BLOCK).enumerate() {
                        let block = Q8Block::quantise(part);
                        scales[at / Q8_BLOCK + b] = block.d;
                        cache[at + b * Q8_BLOCK..][..Q8_BLOCK].copy_from_slice(&block.qs);
                    }
                }
            }
        }
    }

    /// Head `kv`'s keys of the tile that starts at position `first`, as held (see
    /// [`KeyTile`]). Positions not yet stored hold whatever the buffer holds.
    pub(crate) fn key_tile(&self, kv: usize, first: usize) -> KeyTile<'_> {
        let at = (kv * self.capacity + first) * self.head_dim;
        let len = self.head_dim * KEY_TILE;
        match &self.keys {
            Elements::Half(keys) => KeyTile::Half(&keys[at..at + len]),
            Elements::Q8 { values, scales } => KeyTile::Q8 {
                values: &values[at..at + len],
                scales: &scales[at / Q8_BLOCK..(at + len) / Q8_BLOCK],
            },
        }
    }

    /// Fills `out` (a whole number of rows) with head `kv`'s values from position `first` on,
    /// as `f32` rows.
    pub(crate) fn value_rows(&self, kv: usize, first: usize, out: &mut [f32]) {
        let at = (kv * self.capacity + first) * self.head_dim;
        match &self.values {
            Elements::Half(values) => values[at..at + out.len()].convert_to_f32_slice(out),
            Elements::Q8 { values, scales } => {
                let values = &values[at..at + out.len()];
                let scales = &scales[at / Q8_BLOCK..];
                for ((out, values), scale) in
                    out.chunks_mut(Q8_BLOCK).zip(values.chunks(Q8_BLOCK)).zip(scales)
                {
                    for (o, v) in out.iter_mut().zip(values) {
                        *o = f32::from(*v) * scale;
                    }
                }
            }
        }
    }
}

/// One key tile of [`KEY_TILE`] positions as the cache holds it.
#[derive(Clone, Copy)]
pub(crate) enum KeyTile<'a> {
    /// Element `j` of key `t` at `j * KEY_TILE + t`.
    Half(&'a [f16]),
    /// Element `j` of key `t` at `(j / 4 * KEY_TILE + t) * 4 + j % 4`, its scale for block `b`
    /// of dims at `b * KEY_TILE + t`.
    Q8 {
        /// The values.
        values: &'a [i8],
        /// Their scales.
        scales: &'a [f32],
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_numbers as numbers;

    /// Keys and values read back as they were stored (up to the cache's rounding), across a
    /// growth that re-lays out what is held.
    #[test]
    fn keys_come_back_turned_and_values_as_rows_across_growth() {
        for (kind, tolerance) in [(CacheKind::Half, 1e-3), (CacheKind::Q8, 1e-2)] {
            let (heads, d) = (2, 64);
            let mut cache = LayerCache::new(kind, heads, d);
            let first = (numbers(heads * 70 * d, 1), numbers(heads * 70 * d, 2));
            let second = (numbers(heads * 30 * d, 3), numbers(heads * 30 * d, 4));
            cache.grow(70, 0);
            cache.store(&first.0, &first.1, 0, 70);
            cache.grow(100, 70);
            cache.store(&second.0, &second.1, 70, 30);
            // Element j of position t of head kv, as stored.
            let stored = |data: usize, kv: usize, t: usize, j: usize| {
                let (part, len, t) = if t < 70 { (&first, 70, t) } else { (&second, 30, t - 70) };
                let part = if data == 0 { &part.0 } else { &part.1 };
                part[(kv * len + t) * d + j]
            };
            // Element j of key t of a tile, by the layouts `KeyTile` documents.
            let key = |tile: KeyTile, t: usize, j: usize| match tile {
                KeyTile::Half(keys) => keys[j * KEY_TILE + t].to_f32(),
                KeyTile::Q8 { values, scales } => {
                    let at = (j / KEY_GROUP * KEY_TILE + t) * KEY_GROUP + j % KEY_GROUP;
                    f32::from(values[at]) * scales[j / Q8_BLOCK * KEY_TILE + t]
                }
            };
            let mut rows = vec![0f32; 100 * d];
            for kv in 0..heads {
                cache.value_rows(kv, 0, &mut rows);
                for tile_start in [0, KEY_TILE] {
                    let tile = cache.key_tile(kv, tile_start);
                    for t in tile_start..(tile_start + KEY_TILE).min(100) {
                        for j in 0..d {
                            let key = key(tile, t - tile_start, j);
                            assert!((key - stored(0, kv, t, j)).abs() < tolerance, "{kind:?}");
                            let value = rows[t * d + j];
                            assert!((value - stored(1, kv, t, j)).abs() < tolerance, "{kind:?}");
                        }
                    }
                }
            }
        }
    }
}
