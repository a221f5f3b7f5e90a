#!/usr/bin/env python3
"""Reference vectors of all-MiniLM-L6-v2 from sentence-transformers, for the local embedder's
test (candle/tests/embed.rs): run once, its output committed as
candle/tests/fixtures/minilm_reference.json.

Needs sentence-transformers and torch (pip install sentence-transformers), and the model
folder scripts/fetch-model.sh fetches (models/all-MiniLM-L6-v2).

Usage: scripts/embedding-reference.py > candle/tests/fixtures/minilm_reference.json
"""
import json

from sentence_transformers import SentenceTransformer

TEXTS = [
    "How often should I descale the Brewster 3000?",
    "Descale every month with hard water, every three months otherwise.",
    "The warranty covers two years from the date of purchase.",
    "Error E4 means the water tank is empty.",
    "A",
    "Café crème, naïve résumé: accents and ümlauts survive tokenising.",
    "def add(a, b):\n    return a + b  # code embeds too",
    "Mitochondria are the powerhouse of the cell; ATP synthase turns a proton gradient into ATP.",
    " ".join(["A long passage repeats itself past the model's limit of 256 tokens."] * 40),
    "",
]

model = SentenceTransformer("models/all-MiniLM-L6-v2", device="cpu")
vectors = model.encode(TEXTS, normalize_embeddings=False, convert_to_numpy=True)
print(json.dumps({
    "model": "all-MiniLM-L6-v2",
    "made_by": "scripts/embedding-reference.py (sentence-transformers)",
    "texts": TEXTS,
    "vectors": [[round(float(x), 7) for x in vector] for vector in vectors],
}))
