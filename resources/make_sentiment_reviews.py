"""Writes resources/sentiment_reviews.csv: short product reviews written for Plexus.

Three classes: satisfied, neutral, dissatisfied. The reviews are assembled from phrases written
for this project (no scraped text), with a fixed seed, so ``python -m
resources.make_sentiment_reviews`` always writes the same file. Several phrases only make sense
in order ("not bad", "at first I liked it but", "could not be happier"), so a model that reads
the words in sequence has something to gain over counting them.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

TARGET = Path(__file__).resolve().parent / "sentiment_reviews.csv"
PER_CLASS = 200
SEED = 5

PRODUCTS = [
    "headset", "blender", "backpack", "phone case", "desk lamp", "kettle", "lunch box",
    "keyboard", "coffee maker", "vacuum cleaner", "charger", "water bottle", "winter jacket",
    "toaster", "office chair", "tablet", "smartwatch", "frying pan", "suitcase", "printer",
    "mouse", "umbrella", "speaker", "rice cooker", "bike light",
]
ASPECTS = [
    "battery", "sound", "build quality", "price", "delivery", "packaging", "design", "fit",
    "manual", "customer service", "size", "colour", "cable", "handle", "screen",
]

SATISFIED = {
    "verdicts": [
        "works perfectly", "exceeded my expectations", "is great value for the money",
        "is exactly what I needed", "does everything it promises", "feels really solid",
        "is the best one I have owned", "made my mornings easier", "is worth every penny",
        "arrived early and works great", "has been flawless for months",
    ],
    "feelings": [
        "I love it", "Very happy with this purchase", "Highly recommend", "Would buy again",
        "Five stars", "Could not be happier", "No complaints at all", "Absolutely delighted",
        "My whole family loves it", "Bought a second one for my sister",
    ],
    "aspect_words": ["excellent", "great", "superb", "impressive", "perfect", "lovely"],
    "twists": [
        "At first I was unsure, but now I love it.",
        "I was sceptical, but it won me over.",
        "Not cheap, but worth it.",
        "The box was dented, but the {product} itself is perfect.",
        "Setup took a minute, then it just worked.",
    ],
}
NEUTRAL = {
    "verdicts": [
        "is okay", "does the job", "is nothing special", "works as described",
        "is fine for the price", "is about what I expected", "is average",
        "is neither good nor bad", "is decent but not amazing", "works, more or less",
        "is acceptable for everyday use",
    ],
    "feelings": [
        "It is what it is", "Three stars", "Mixed feelings", "Not bad, not great",
        "Can't say I love it or hate it", "Fine, I guess", "Meets the basic needs",
        "Nothing to write home about", "Might buy again, might not", "An ordinary product",
    ],
    "aspect_words": ["acceptable", "fine", "average", "so-so", "standard", "ordinary"],
    "twists": [
        "Good {aspect}, but the {aspect2} is poor.",
        "Some things are great and some are annoying.",
        "It works, although the {aspect} could be better.",
        "Not as good as my old one, not worse either.",
        "The {aspect} is nice and the {aspect2} is weak, so it evens out.",
    ],
}
DISSATISFIED = {
    "verdicts": [
        "stopped working after a week", "broke on the first day", "is a waste of money",
        "arrived damaged", "does not work", "feels cheap and flimsy",
        "is the worst purchase I made this year", "overheats all the time",
        "fell apart in a month", "never charged properly", "is much smaller than pictured",
    ],
    "feelings": [
        "Very disappointed", "Would not recommend", "One star", "I returned it",
        "Not worth it", "Not happy at all", "Avoid this one", "Total regret",
        "I want my money back", "Never again",
    ],
    "aspect_words": ["awful", "poor", "terrible", "flimsy", "useless", "horrible"],
    "twists": [
        "It looked nice, but it broke after two days.",
        "At first I liked it, but now it is useless.",
        "Cheap, and it shows.",
        "The {aspect} is fine, but the {product} stopped working.",
        "Support never answered my emails.",
    ],
}
CLASSES = {"satisfied": SATISFIED, "neutral": NEUTRAL, "dissatisfied": DISSATISFIED}


def review(phrases: dict[str, list[str]], rng: random.Random) -> str:
    """One review: two or three sentences drawn from a class's phrases."""
    product = rng.choice(PRODUCTS)
    aspect, aspect2 = rng.sample(ASPECTS, 2)
    sentences = []
    shape = rng.randrange(5)
    if shape == 0:
        sentences.append(f"The {product} {rng.choice(phrases['verdicts'])}.")
        sentences.append(f"{rng.choice(phrases['feelings'])}.")
    elif shape == 1:
        sentences.append(f"{rng.choice(phrases['feelings'])}.")
        sentences.append(f"The {aspect} is {rng.choice(phrases['aspect_words'])} and it "
                         f"{rng.choice(phrases['verdicts'])}.")
    elif shape == 2:
        sentences.append(f"This {product} {rng.choice(phrases['verdicts'])}.")
        sentences.append(rng.choice(phrases["twists"]))
    elif shape == 3:
        sentences.append(rng.choice(phrases["twists"]))
        sentences.append(f"{rng.choice(phrases['feelings'])}.")
    else:
        sentences.append(f"Bought this {product} last month.")
        sentences.append(f"The {aspect} is {rng.choice(phrases['aspect_words'])}.")
        sentences.append(f"{rng.choice(phrases['feelings'])}.")
    text = " ".join(sentences)
    return text.format(product=product, aspect=aspect, aspect2=aspect2)


def reviews(per_class: int = PER_CLASS, seed: int = SEED) -> list[tuple[str, str]]:
    """(text, label) rows: ``per_class`` distinct reviews per class, classes interleaved."""
    rng = random.Random(seed)
    made: dict[str, list[str]] = {label: [] for label in CLASSES}
    seen: set[str] = set()
    while any(len(texts) < per_class for texts in made.values()):
        for label, phrases in CLASSES.items():
            if len(made[label]) >= per_class:
                continue
            text = review(phrases, rng)
            if text not in seen:
                seen.add(text)
                made[label].append(text)
    rows = [(text, label) for label in CLASSES for text in made[label]]
    rng.shuffle(rows)
    return rows


def write(path: Path = TARGET) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["text", "label"])
        writer.writerows(reviews())
    return path


if __name__ == "__main__":
    print(write())
