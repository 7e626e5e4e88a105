#!/usr/bin/env python3
"""Writes the demo's NSMC-format movie reviews (examples/data/nsmc/): id<TAB>document<TAB>label, header line.

Each review joins neutral phrases with one or two sentiment phrases of its label, so a model can only score well by
learning which phrases carry sentiment. Deterministic (fixed seed); rerun to regenerate the shipped files.
"""
import os
import random
import sys

POSITIVE = ["정말 재미있어요", "최고의 영화", "감동적이었다", "배우 연기가 훌륭하다", "또 보고 싶다", "강력 추천합니다",
            "완전 꿀잼", "시간 가는 줄 몰랐다", "음악이 아름답다", "인생 영화입니다", "웃기고 따뜻하다", "명작이다"]
NEGATIVE = ["너무 지루했다", "최악의 영화", "돈이 아깝다", "연기가 어색하다", "보다가 잠들었다", "시간 낭비였다",
            "스토리가 엉망", "실망스럽다", "다시는 안 본다", "유치하고 뻔하다", "짜증나는 결말", "졸작이다"]
NEUTRAL = ["어제 봤는데", "친구랑 같이", "주말에 극장에서", "솔직히 말하면", "처음에는", "원작 소설을 읽고",
           "두 시간 동안", "감독의 신작", "기대 없이 봤다", "평점 보고 골랐다", "결말까지 보니", "음 그러니까"]


def review(rng, label):
    words = rng.sample(NEUTRAL, rng.randint(1, 3))
    for phrase in rng.sample(POSITIVE if label == 1 else NEGATIVE, rng.randint(1, 2)):
        words.insert(rng.randint(0, len(words)), phrase)
    return " ".join(words)


def write(path, rows, first_id, rng):
    with open(path, "w", encoding="utf-8") as out:
        out.write("id\tdocument\tlabel\n")
        for i in range(rows):
            label = rng.randint(0, 1)
            out.write(f"{first_id + i}\t{review(rng, label)}\t{label}\n")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "examples", "data", "nsmc")
    os.makedirs(root, exist_ok=True)
    rng = random.Random(2024)
    write(os.path.join(root, "ratings_train.txt"), 600, 100000, rng)
    write(os.path.join(root, "ratings_test.txt"), 200, 900000, rng)


if __name__ == "__main__":
    main()
