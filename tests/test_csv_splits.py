"""The user's own data: read_csv on files written here, train_val_test_split, and Standardizer without leakage."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine import DataError
from engine.datasets import CSVData, Standardizer, read_csv, train_val_test_split


def csv_file(tmp_path, text: str, name: str = "data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- read_csv ------------------------------------------------------------------------------

def test_header_and_string_labels(tmp_path):
    path = csv_file(tmp_path, "sepal,petal,species\n5.1,1.4,setosa\n6.3,4.9,virginica\n5.9,4.2,versicolor\n"
                              "4.8,1.6,setosa\n")
    d = read_csv(path)
    assert isinstance(d, CSVData) and d.has_header and d.label_name == "species"
    assert d.X.dtype == np.float64 and d.X.shape == (4, 2)
    np.testing.assert_array_equal(d.X, [[5.1, 1.4], [6.3, 4.9], [5.9, 4.2], [4.8, 1.6]])
    assert d.feature_names == ["sepal", "petal"]
    assert d.classes == ["setosa", "versicolor", "virginica"]  # sorted, not order of appearance
    assert d.y.dtype == np.int64 and d.y.tolist() == [0, 2, 1, 0]
    assert [d.classes[k] for k in d.y] == ["setosa", "virginica", "versicolor", "setosa"]


def test_no_header_numeric_labels_sorted_numerically(tmp_path):
    path = csv_file(tmp_path, "0.5,1,10\n1.5,2,2\n2.5,3,10\n3.5,4,1.0\n4.5,5,1\n")
    d = read_csv(path)
    assert not d.has_header and d.feature_names == ["col0", "col1"] and d.label_name == "col2"
    assert d.classes == ["1.0", "2", "10"], "numeric order (2 < 10); 1.0 and 1 are one class, first text kept"
    assert d.y.tolist() == [2, 1, 2, 0, 0]
    np.testing.assert_array_equal(d.X[:, 1], [1, 2, 3, 4, 5])


def test_shuffled_rows_keep_class_numbers(tmp_path):
    a = read_csv(csv_file(tmp_path, "x,y\n1,b\n2,a\n3,c\n", "a.csv"))
    b = read_csv(csv_file(tmp_path, "x,y\n3,c\n1,b\n2,a\n", "b.csv"))
    assert a.classes == b.classes == ["a", "b", "c"]
    assert dict(zip(a.X[:, 0], a.y)) == dict(zip(b.X[:, 0], b.y)) == {1.0: 1, 2.0: 0, 3.0: 2}


@pytest.mark.parametrize("label,want_label,want_features", [
    ("kind", "kind", ["a", "b"]),
    (0, "kind", ["a", "b"]),
    ("0", "kind", ["a", "b"]),       # an integer string that names no column is an index
    (-3, "kind", ["a", "b"]),
    ("b", "b", ["kind", "a"]),       # a numeric column can be the label too
])
def test_label_column_by_name_or_index(tmp_path, label, want_label, want_features):
    path = csv_file(tmp_path, "kind,a,b\ncat,1,7\ndog,2,8\ncat,3,7\n")
    if want_label == "b":
        path = csv_file(tmp_path, "kind,a,b\n1,1,7\n2,2,8\n3,3,7\n")
    d = read_csv(path, label=label)
    assert d.label_name == want_label and d.feature_names == want_features, (d.label_name, d.feature_names)
    if want_label == "kind":
        assert d.classes == ["cat", "dog"] and d.y.tolist() == [0, 1, 0]
        np.testing.assert_array_equal(d.X, [[1, 7], [2, 8], [3, 7]])
    else:
        assert d.classes == ["7", "8"] and d.y.tolist() == [0, 1, 0]
        np.testing.assert_array_equal(d.X, [[1, 1], [2, 2], [3, 3]])


def test_header_detected_from_feature_columns_only(tmp_path):
    # the label column of the first row is text, but the features are numbers: a data row
    d = read_csv(csv_file(tmp_path, "1,2,yes\n3,4,no\n"))
    assert not d.has_header and d.classes == ["no", "yes"] and d.X.shape == (2, 2)


def test_blank_lines_bom_quotes_spaces_and_other_delimiters(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes('\ufeff"x 1", y\n\n 1.5 , "a"\n2e3,b\n\n'.encode("utf-8"))
    d = read_csv(path)
    assert d.feature_names == ["x 1"] and d.label_name == "y"
    np.testing.assert_array_equal(d.X[:, 0], [1.5, 2000.0])
    for sep in ("\t", ";"):
        d = read_csv(csv_file(tmp_path, f"f{sep}g{sep}c\n1{sep}2{sep}u\n3{sep}4{sep}v\n", "t.csv"))
        assert d.feature_names == ["f", "g"] and d.classes == ["u", "v"], sep


@pytest.mark.parametrize("text,label,pattern", [
    ("", None, r"data\.csv: empty file; expected rows of numeric features"),
    ("\n  \n", None, "empty file"),
    ("a,b,c\n1,2,x\n3,four,y\n", None, r"data\.csv:3: column 'b' \(column 1\): 'four' is not a number; "
                                       r"every column except the label \('c'\) must be numeric"),
    ("1,2,x\n3,,y\n", None, r"data\.csv:2: column 'col1' \(column 1\): '' is not a number"),
    ("a,b,c\n1,2,x\n3,4\n", None, r"data\.csv:3: 2 cells, but the first row \(line 1\) has 3; every row"),
    ("a,b,c\n1,2,x\n3,4,y,5\n", None, r"data\.csv:3: 4 cells"),
    ("a,b,c\n1,2,x\n3,4,y\n", "species", r"no column named 'species'; the header has: a, b, c"),
    ("1,2,3\n4,5,6\n", "species", r"no column named 'species': the file has no header row .*0-based index"),
    ("1,2,3\n4,5,6\n", "3", None),  # an integer string: index 3 is out of range
    ("a,b,c\n1,2,x\n3,4,x\n5,6,x\n", None, r"every row has the label 'x' \(column 'c'\); a classifier needs "
                                           r"at least two classes"),
    ("a,b,c\n1,2,x\n", None, r"data\.csv: 1 data row; need at least 2"),
    ("a,b,c\n", None, r"data\.csv: 0 data rows; need at least 2"),
    ("a,b,c\n1,nan,x\n2,3,y\n", None, r"data\.csv:2: column 'b' \(column 1\): 'nan' is not a finite number"),
    ("a,b,c\n1,2,x\n-inf,3,y\n", None, r"data\.csv:3: column 'a' \(column 0\): '-inf' is not a finite number"),
    ("a,b,c\n1,2,x\n2,3,\n", None, r"data\.csv:3: the label \('c', column 2\) is empty"),
    ("a,b,c\n1,2,1\n2,3,inf\n", None, r"data\.csv:3: the label 'inf' is not a finite number"),
    ("abc\n1\n2\n", None, r"data\.csv:1: only one column"),
    ("a,b,c\n1,2,x\n3,4,y\n", 5, r"label column index 5 is out of range: the file has 3 columns \(0\.\.2"),
    ("a,b,c\n1,2,x\n3,4,y\n", -4, r"label column index -4 is out of range"),
    ("a,b,c\n1,2,x\n3,4,y\n", 1.5, r"label must be a column name or a 0-based column index, got 1\.5"),
    ('a,b,c\n1,2,"x\n', None, r"data\.csv:\d+: not valid CSV|1 data row"),
])
def test_csv_errors(tmp_path, text, label, pattern):
    path = csv_file(tmp_path, text)
    pattern = pattern or r"label column index 3 is out of range"
    with pytest.raises(DataError, match=pattern):
        read_csv(path, label=label)


def test_csv_label_name_without_header(tmp_path):
    path = csv_file(tmp_path, "1,2,3\n4,5,6\n")
    d = read_csv(path, label="2")  # "2" names no header column: it is the index of column 2
    assert d.classes == ["3", "6"] and d.feature_names == ["col0", "col1"]
    path = csv_file(tmp_path, "1,2,b\n4,5,a\n")  # a name that only matches a data cell is refused
    with pytest.raises(DataError, match=r"data\.csv:1: the label column 'b' needs a header row"):
        read_csv(path, label="b")


def test_csv_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: no such file; give the path of a CSV file"):
        read_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a folder"):
        read_csv(tmp_path)
    (tmp_path / "latin1.csv").write_bytes("a,b\n1,caf\xe9\n2,x\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.csv: not UTF-8 text"):
        read_csv(tmp_path / "latin1.csv")


# -- splits --------------------------------------------------------------------------------

def test_split_sizes_disjoint_and_seeded():
    X = np.arange(100, dtype=float).reshape(50, 2)
    y = np.arange(50)
    s = train_val_test_split(X, y, val=0.1, test=0.2, seed=3)
    assert set(s) == {"train", "val", "test"}
    assert [len(s[k][0]) for k in ("train", "val", "test")] == [35, 5, 10]
    ids = np.concatenate([s[k][1] for k in ("train", "val", "test")])
    assert sorted(ids.tolist()) == list(range(50)), "every row lands in exactly one part"
    for k in s:
        np.testing.assert_array_equal(s[k][0][:, 0], 2 * s[k][1]), "rows and labels stay together"
    again = train_val_test_split(X, y, val=0.1, test=0.2, seed=3)
    assert all(np.array_equal(s[k][1], again[k][1]) for k in s)
    other = train_val_test_split(X, y, val=0.1, test=0.2, seed=4)
    assert not np.array_equal(s["train"][1], other["train"][1])
    assert s["train"][1].tolist() != sorted(s["train"][1].tolist()), "shuffled"


def test_split_without_shuffle_is_consecutive():
    X, y = np.arange(10.0)[:, None], np.arange(10)
    s = train_val_test_split(X, y, val=0.0, test=0.2, shuffle=False)
    assert s["train"][1].tolist() == list(range(8)) and s["test"][1].tolist() == [8, 9]
    assert s["val"][0].shape == (0, 1) and s["val"][1].shape == (0,)
    s = train_val_test_split(X, y, val=0.3, test=0.1, shuffle=False)
    assert s["train"][1].tolist() == list(range(6)) and s["val"][1].tolist() == [6, 7, 8] and s["test"][1].tolist() == [9]
    s["train"][0][0, 0] = 99.0
    assert X[0, 0] == 0.0, "parts are copies"


def test_split_rounding_keeps_a_row_for_small_fractions():
    X, y = np.zeros((5, 1)), np.arange(5)
    s = train_val_test_split(X, y, val=0.05, test=0.1)
    assert [len(s[k][1]) for k in ("train", "val", "test")] == [3, 1, 1]
    s = train_val_test_split(X, y, val=0.0, test=0.0)
    assert len(s["train"][1]) == 5 and len(s["val"][1]) == len(s["test"][1]) == 0


@pytest.mark.parametrize("val,test,pattern", [
    (-0.1, 0.1, r"val must be a fraction in \[0, 1\), got -0\.1"),
    (0.1, 1.0, r"test must be a fraction in \[0, 1\), got 1\.0"),
    (0.5, 0.5, r"val=0\.5 and test=0\.5 of 10 rows leave no training data \(5 val \+ 5 test\)"),
    ("0.1", 0.1, r"val must be a fraction"),
])
def test_split_errors(val, test, pattern):
    with pytest.raises(DataError, match=pattern):
        train_val_test_split(np.zeros((10, 2)), np.zeros(10), val=val, test=test)


def test_split_length_mismatch():
    with pytest.raises(DataError, match="X has 4 rows but y has 3"):
        train_val_test_split(np.zeros((4, 2)), np.zeros(3))


# -- standardization -----------------------------------------------------------------------

def test_standardizer_values():
    X = np.array([[1.0, 10.0, 5.0], [3.0, 30.0, 5.0]])
    st = Standardizer().fit(X)
    np.testing.assert_array_equal(st.mean, [2.0, 20.0, 5.0])
    np.testing.assert_array_equal(st.std, [1.0, 10.0, 1.0])  # the constant column gets std 1
    np.testing.assert_array_equal(st.transform(X), [[-1.0, -1.0, 0.0], [1.0, 1.0, 0.0]])
    np.testing.assert_array_equal(st.transform([[2, 40, 7]]), [[0.0, 2.0, 2.0]])
    assert st.transform(X.astype(np.float32)).dtype == np.float32
    assert st.transform(np.array([[1, 10, 5]])).dtype == np.float64


def test_standardizer_round_trips_through_json():
    X = np.random.default_rng(0).normal(3.0, 2.0, (40, 4))
    st = Standardizer().fit(X)
    d = json.loads(json.dumps(st.to_dict()))
    assert d["kind"] == "standardizer" and len(d["mean"]) == 4
    again = Standardizer.from_dict(d)
    np.testing.assert_array_equal(again.transform(X), st.transform(X))


def test_no_leakage_statistics_come_from_train_only():
    rng = np.random.default_rng(1)
    X = rng.normal(0.0, 1.0, (200, 3))
    y = rng.integers(0, 2, 200)
    s = train_val_test_split(X, y, val=0.1, test=0.2, seed=0)
    st = Standardizer().fit(s["train"][0])
    np.testing.assert_allclose(st.mean, s["train"][0].mean(axis=0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(st.std, s["train"][0].std(axis=0), rtol=0, atol=1e-15)
    # wildly changing every val/test row changes nothing that was fitted, nor the training rows' values
    train_rows = {tuple(r) for r in s["train"][0]}
    held_out = np.array([tuple(r) not in train_rows for r in X])
    assert held_out.sum() == 60
    X2 = X.copy()
    X2[held_out] = 1e6
    s2 = train_val_test_split(X2, y, val=0.1, test=0.2, seed=0)
    st2 = Standardizer().fit(s2["train"][0])
    np.testing.assert_array_equal(st2.mean, st.mean)
    np.testing.assert_array_equal(st2.std, st.std)
    np.testing.assert_array_equal(st2.transform(s2["train"][0]), st.transform(s["train"][0]))
    # fitted on everything instead, the held-out rows would have moved the mean: leakage is visible
    assert not np.allclose(Standardizer().fit(X2).mean, st.mean)


@pytest.mark.parametrize("call,pattern", [
    (lambda: Standardizer().transform(np.zeros((2, 2))), r"transform before fit: call fit\(X_train\) first"),
    (lambda: Standardizer().fit(np.zeros((0, 3))), r"non-empty \(n, features\) array, got shape \(0, 3\)"),
    (lambda: Standardizer().fit(np.zeros((2, 3))).transform(np.zeros((2, 4))),
     r"fitted on 3 features, got an array of shape \(2, 4\)"),
    (lambda: Standardizer().to_dict(), "nothing to save yet"),
    (lambda: Standardizer.from_dict({"kind": "minmax", "mean": [0], "std": [1]}), "not a saved Standardizer"),
    (lambda: Standardizer.from_dict({"mean": [0, 1], "std": [1]}), r"equal length.*\(2,\) and \(1,\)"),
    (lambda: Standardizer.from_dict({"mean": [0], "std": [0]}), "std > 0"),
    (lambda: Standardizer.from_dict({"mean": ["a"], "std": [1]}), "lists of numbers"),
])
def test_standardizer_errors(call, pattern):
    with pytest.raises(DataError, match=pattern):
        call()
