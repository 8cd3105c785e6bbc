"""Training convolution filters on a labelled source task (needs torch: the ``train`` extra).

Kim (2014)'s CNN-static: the frozen word vectors, filters of widths 3, 4 and 5 with 100
feature maps each, ReLU, max over time, dropout 0.5 and a softmax on top (its weight
vectors kept within norm 3), each text padded with ``widest - 1`` zero vectors on either
side; trained with Adam (step 1e-3) on mini-batches of 50, for at most 20 passes,
stopped early when the accuracy on a held-out tenth of the source's training texts has
not improved for 3 passes, the best pass's weights kept.
The softmax is only there to give the filters labels to learn from; it is returned with
them, so the filters with their softmax are a source model too.

The texts are read exactly as :class:`lightxfer.shared.conv.ConvLayer` reads them
(same tokenizer, padding and pooling), so the numpy layer reproduces the trained
network's features.
"""

import os

import numpy as np
from gensim.models import KeyedVectors
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder

from lightxfer.exceptions import require
from lightxfer.progress import progress_bar
from lightxfer.shared.conv_filters import ConvFilters
from lightxfer.shared.tokenize import tokenize_ids
from lightxfer.shared.validation import check_labels, training_texts
from lightxfer.shared.vectorizer import EmbeddingVectorizer
from lightxfer.vectors import registry
from lightxfer.vectors.loading import DEFAULT_VECTORS

#: Kim's softmax weight vectors are rescaled to this norm when they exceed it.
MAX_NORM = 3.0


def train_conv_filters(
    X,
    y,
    *,
    vectors=DEFAULT_VECTORS,
    widths=(3, 4, 5),
    maps=100,
    dropout=0.5,
    epochs=20,
    patience=3,
    validation_fraction=0.1,
    batch_size=50,
    learning_rate=1e-3,
    tokenizer="auto",
    lowercase="auto",
    random_state=0,
    progress=None,
):
    """Train convolution filters over frozen word vectors on labelled texts.

    Parameters
    ----------
    X : iterable of str
        Source texts.
    y : array-like
        Their labels (two classes or more).
    vectors : str, path or KeyedVectors, default="glove-wiki-gigaword-50"
        The frozen word vectors (see :func:`lightxfer.load_vectors`).
    widths : sequence of int, default=(3, 4, 5)
        Filter widths, in words.
    maps : int, default=100
        Feature maps per width.
    dropout : float, default=0.5
        Dropout on the pooled features, before the softmax.
    epochs : int, default=20
        Most passes over the training texts.
    patience : int, default=3
        Passes without a better validation accuracy before stopping.
    validation_fraction : float, default=0.1
        Share of the texts held out (stratified) for early stopping.
    batch_size : int, default=50
    learning_rate : float, default=1e-3
        Adam's step size.
    tokenizer, lowercase
        As in :class:`lightxfer.shared.conv.ConvLayer`.
    random_state : int, default=0
        Seeds the split, the initial weights, the order of batches and the dropout.
    progress : bool, optional
        Show a bar over the passes.

    Returns
    -------
    ConvFilters
        The filters of the best pass, with its softmax layer and the recipe in
        ``metadata["recipe"]`` (``epochs_run``, ``best_epoch``, ``validation_accuracy``).
    """
    torch = require("torch", "train")
    texts = training_texts(X, y)
    check_labels(y)
    labels = np.asarray(y)
    if len(labels) != len(texts):
        raise ValueError(f"X has {len(texts)} texts but y has {len(labels)} labels")
    widths = [int(w) for w in widths]
    encoder = LabelEncoder().fit(labels)
    if len(encoder.classes_) < 2:
        raise ValueError("training conv filters needs at least two classes in y")
    targets = encoder.transform(labels)
    embedding = EmbeddingVectorizer(
        vectors, tokenizer=tokenizer, lowercase=lowercase, progress=False
    ).fit(texts)
    kv = embedding.vectors_
    ids, lengths, _ = tokenize_ids(
        texts, kv.key_to_index, tokenizer=tokenizer, lowercase=embedding.lowercase_
    )
    # Only the rows these texts use, row 0 the zero vector of unknown words and padding.
    used, compact = np.unique(ids[ids >= 0], return_inverse=True)
    rows = np.zeros(len(ids), dtype=np.int64)
    rows[ids >= 0] = compact + 1
    table = np.vstack([np.zeros((1, kv.vector_size), np.float32), kv.vectors[used]])
    sequences = np.split(rows, np.cumsum(lengths)[:-1])
    train, valid = train_test_split(
        np.arange(len(texts)),
        test_size=validation_fraction,
        stratify=targets,
        random_state=random_state,
    )
    torch.manual_seed(random_state)
    network = _network(torch, table, widths, maps, len(encoder.classes_), dropout)
    optimizer = torch.optim.Adam(
        [p for p in network.parameters() if p.requires_grad], lr=learning_rate
    )
    generator = np.random.default_rng(random_state)
    best, best_accuracy, best_epoch, epoch = None, -1.0, 0, 0
    with progress_bar(
        progress, large=True, total=epochs, desc="training conv", unit=" epochs"
    ) as bar:
        for epoch in range(1, epochs + 1):
            network.train()
            order = generator.permutation(train)
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                inputs, valid_windows = _batch(torch, sequences, batch, widths)
                loss = torch.nn.functional.cross_entropy(
                    network(inputs, valid_windows), torch.as_tensor(targets[batch])
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                _clip_norm(torch, network.output.weight)
            accuracy = _accuracy(torch, network, sequences, valid, targets, widths)
            bar.update(1)
            if accuracy > best_accuracy:
                best_accuracy, best_epoch = accuracy, epoch
                best = {k: v.detach().clone() for k, v in network.state_dict().items()}
            elif epoch - best_epoch >= patience:
                break
    network.load_state_dict(best)
    recipe = {
        "call": "train_conv_filters",
        "widths": widths,
        "maps": int(maps),
        "dropout": float(dropout),
        "epochs": int(epochs),
        "patience": int(patience),
        "validation_fraction": float(validation_fraction),
        "batch_size": int(batch_size),
        "learning_rate": float(learning_rate),
        "optimizer": "adam",
        "max_norm": MAX_NORM,
        "random_state": random_state,
        "tokenizer": tokenizer if isinstance(tokenizer, str) else "callable",
        "epochs_run": epoch,
        "best_epoch": best_epoch,
        "validation_accuracy": round(float(best_accuracy), 4),
        "torch": torch.__version__,
    }
    return _filters(network, embedding, encoder.classes_, recipe)


def _network(torch, table, widths, maps, n_classes, dropout):
    nn = torch.nn

    class TextCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding.from_pretrained(torch.as_tensor(table), freeze=True)
            self.convs = nn.ModuleList(nn.Conv1d(table.shape[1], maps, w) for w in widths)
            self.dropout = nn.Dropout(dropout)
            self.output = nn.Linear(maps * len(widths), n_classes)

        def features(self, inputs, valid_windows):
            embedded = self.embed(inputs).transpose(1, 2)  # (batch, dim, positions)
            pooled = []
            for conv, valid in zip(self.convs, valid_windows):
                response = conv(embedded).masked_fill(~valid[:, None, :], float("-inf"))
                pooled.append(torch.relu(response.max(dim=2).values))
            return torch.cat(pooled, dim=1)

        def forward(self, inputs, valid_windows):
            return self.output(self.dropout(self.features(inputs, valid_windows)))

    return TextCNN()


def _batch(torch, sequences, batch, widths):
    """Padded ids of the texts ``batch`` and, per width, the windows inside each text."""
    lead = max(widths) - 1  # the padding of ConvLayer: widest - 1 zero rows either side
    lengths = np.array([max(len(sequences[i]) + 2 * lead, max(widths)) for i in batch])
    inputs = np.zeros((len(batch), lengths.max()), dtype=np.int64)
    for row, i in enumerate(batch):
        inputs[row, lead : lead + len(sequences[i])] = sequences[i]
    valid = [
        torch.as_tensor(np.arange(lengths.max() - w + 1)[None, :] <= (lengths - w)[:, None])
        for w in widths
    ]
    return torch.as_tensor(inputs), valid


def _clip_norm(torch, weight):
    with torch.no_grad():
        norms = weight.norm(dim=1, keepdim=True).clamp(min=MAX_NORM)
        weight.mul_(MAX_NORM / norms)


def _accuracy(torch, network, sequences, rows, targets, widths, batch_size=500):
    network.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            predicted = network(*_batch(torch, sequences, batch, widths)).argmax(dim=1).numpy()
            correct += int((predicted == targets[batch]).sum())
    return correct / max(len(rows), 1)


def _filters(network, embedding, classes, recipe):
    """The trained network's filters in :class:`ConvFilters`' layout ``(width, dim, maps)``."""
    coefs = [
        conv.weight.detach().numpy().transpose(2, 1, 0).astype(np.float32).copy()
        for conv in network.convs
    ]
    intercepts = [conv.bias.detach().numpy().astype(np.float32).copy() for conv in network.convs]
    vectors = embedding.vectors
    if isinstance(vectors, KeyedVectors):  # in memory: named by where it was loaded from
        vectors = registry.reference(vectors).source or ""
    return ConvFilters(
        coefs,
        intercepts,
        vectors=os.fspath(vectors),
        vectors_fingerprint=embedding.fingerprint_,
        output_coef=network.output.weight.detach().numpy().T.astype(np.float32).copy(),
        output_intercept=network.output.bias.detach().numpy().astype(np.float32).copy(),
        classes=np.asarray(classes).astype(str),
        metadata={"recipe": recipe},
    )
