"""Side-by-side baselines for the results table, run on exactly the split rnnkit uses.

* ``tfidf_logreg``  -- TF-IDF features + multinomial logistic regression (scikit-learn): word
  uni+bigrams for tweets, character 1-4-grams inside word boundaries for names;
* ``dtw_1nn``       -- 1-nearest-neighbour under dynamic time warping (full window, squared
  Euclidean step cost, multivariate "dependent" DTW), the classic time-series baseline
  (Bagnall et al. 2017; Shokoohi-Yekta et al. 2017 for DTW_D);
* ``most_frequent_tag`` -- each word's most frequent training tag, the most frequent tag overall
  for unseen words: the standard POS-tagging floor.

scikit-learn is only needed here (``pip install 'rnnkit[data]'``), never by rnnkit itself.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

SKLEARN_INSTALL = "pip install scikit-learn==1.9.1"


def tfidf_logreg(train_x, train_y, test_x, *, analyzer: str = "word",
                 ngram_range=(1, 2), seed: int = 0) -> list[str]:
    """Predicted labels of ``test_x`` from TF-IDF + logistic regression fitted on train."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise SystemExit(f"this baseline needs scikit-learn: {SKLEARN_INSTALL}") from None
    vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, sublinear_tf=True,
                                 min_df=1, lowercase=True)
    features = vectorizer.fit_transform(train_x)
    model = LogisticRegression(C=10.0 if analyzer != "word" else 4.0, max_iter=2000,
                               random_state=seed)
    model.fit(features, train_y)
    return list(model.predict(vectorizer.transform(test_x)))


def _dtw_many(a: np.ndarray, la: np.ndarray, b: np.ndarray, lb: np.ndarray) -> np.ndarray:
    """DTW distances of N pairs at once: a (N, Ta, C), b (N, Tb, C), lengths la, lb (N,)."""
    N, Ta, _ = a.shape
    Tb = b.shape[1]
    cost = ((a[:, :, None, :] - b[:, None, :, :]) ** 2).sum(-1)      # (N, Ta, Tb)
    D = np.full((N, Ta + 1, Tb + 1), np.inf)
    D[:, 0, 0] = 0.0
    for i in range(1, Ta + 1):
        for j in range(1, Tb + 1):
            D[:, i, j] = cost[:, i - 1, j - 1] + np.minimum(
                np.minimum(D[:, i - 1, j - 1], D[:, i - 1, j]), D[:, i, j - 1])
    return D[np.arange(N), la, lb]


def dtw_1nn(train_x, train_y, test_x, *, block: int = 4000) -> list[str]:
    """1-NN DTW labels of the (T, C) series ``test_x``; padding never enters a path's end."""
    def pad(series):
        T = max(len(s) for s in series)
        out = np.zeros((len(series), T, series[0].shape[1]))
        for k, s in enumerate(series):
            out[k, : len(s)] = s
        return out, np.array([len(s) for s in series])

    A, la = pad(list(test_x))
    B, lb = pad(list(train_x))
    pairs = [(i, j) for i in range(len(A)) for j in range(len(B))]
    dist = np.empty(len(pairs))
    for s in range(0, len(pairs), block):
        idx = np.array(pairs[s: s + block])
        dist[s: s + len(idx)] = _dtw_many(A[idx[:, 0]], la[idx[:, 0]], B[idx[:, 1]],
                                          lb[idx[:, 1]])
    nearest = dist.reshape(len(A), len(B)).argmin(1)
    return [train_y[j] for j in nearest]


def most_frequent_tag(train_sentences, train_tags, test_sentences) -> list[list[str]]:
    """Each (lower-cased) word's most frequent training tag; the commonest tag otherwise."""
    counts: dict = defaultdict(Counter)
    for words, tags in zip(train_sentences, train_tags):
        for w, t in zip(words, tags):
            counts[w.lower()][t] += 1
    overall = Counter(t for tags in train_tags for t in tags).most_common(1)[0][0]
    best = {w: c.most_common(1)[0][0] for w, c in counts.items()}
    return [[best.get(w.lower(), overall) for w in words] for words in test_sentences]
