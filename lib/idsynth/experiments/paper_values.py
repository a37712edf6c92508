"""The numbers the two papers report, as tidy DataFrames to set our results beside.

Typed in from ``vgm-paper.txt`` / ``mage-id-poster.txt`` as summarised in the project's
``TARGETS.md``. Every function returns a fresh frame with a ``paper`` value column (or several
value columns where a table reports several metrics) and the keys our experiments join on.

Naming used throughout: VGM options ``"A"``, ``"B"``, ``"C"``; classifiers as in
:data:`idsynth.metrics.classifiers.CLASSIFIER_NAMES`; data sources ``"real"`` and
``"synthetic"``; NSL-KDD classes ``("DoS", "Normal", "Probe", "R2L", "U2R")``; Table 1's
training sets ``"KDDTrain+"`` and ``"KDDTest+"``.
"""

from __future__ import annotations

import pandas as pd

from ..metrics.classifiers import CLASSIFIER_NAMES
from ..metrics.utility import COMBINATIONS

OPTIONS: tuple[str, ...] = ("A", "B", "C")
NSLKDD_CLASSES: tuple[str, ...] = ("DoS", "Normal", "Probe", "R2L", "U2R")
DISCRETE_FEATURES: tuple[str, ...] = ("flag", "protocol_type", "service")


def table1() -> pd.DataFrame:
    """VGM Table 1: accuracy reproducing each discrete feature (forward pass, same labels).

    Columns ``option, trained_on, feature, paper``; 3 options × 2 training sets × 3 features.
    """
    values = {  # (flag, protocol_type, service) for KDDTrain+, then for KDDTest+
        "A": ((0.82711, 0.81517, 0.46315), (0.65822, 0.83747, 0.44451)),
        "B": ((0.81456, 0.81517, 0.44973), (0.65277, 0.83747, 0.43320)),
        "C": ((0.99371, 0.99660, 0.88315), (0.90046, 0.98603, 0.74676)),
    }
    rows = [
        {"option": option, "trained_on": trained_on, "feature": feature, "paper": value}
        for option, per_set in values.items()
        for trained_on, triple in zip(("KDDTrain+", "KDDTest+"), per_set)
        for feature, value in zip(DISCRETE_FEATURES, triple)
    ]
    return pd.DataFrame(rows)


def table2() -> pd.DataFrame:
    """VGM Table 2: accuracy of default classifiers, KDDTrain+ real vs synthetic.

    Columns ``classifier, option, train_on, predict_on, paper``; 4 classifiers × 3 options ×
    4 combinations. "real -> real" predicts the real training set itself.
    """
    values = {  # per classifier, per option: (R->S, R->R, S->R, S->S), the order of COMBINATIONS
        "Random Forest": {
            "A": (0.98497, 0.99986, 0.85887, 0.85964),
            "B": (0.93022, 0.99986, 0.86099, 0.97973),
            "C": (0.98400, 0.99986, 0.94993, 1.00000),
        },
        "Linear SVM": {
            "A": (0.97502, 0.98433, 0.20608, 0.97613),
            "B": (0.93713, 0.98433, 0.09812, 0.93495),
            "C": (0.98790, 0.98433, 0.93729, 0.99963),
        },
        "Logistic Regression": {
            "A": (0.98509, 0.99317, 0.80487, 0.98516),
            "B": (0.94000, 0.99317, 0.69931, 0.93935),
            "C": (0.99300, 0.99317, 0.95297, 0.99974),
        },
        "MLP": {
            "A": (0.97419, 0.99904, 0.83356, 0.97669),
            "B": (0.93632, 0.99904, 0.87717, 0.94002),
            "C": (0.99753, 0.99904, 0.96736, 0.99998),
        },
    }
    rows = [
        {"classifier": classifier, "option": option, "train_on": train_on, "predict_on": predict_on, "paper": value}
        for classifier in CLASSIFIER_NAMES
        for option, quadruple in values[classifier].items()
        for (train_on, predict_on), value in zip(COMBINATIONS, quadruple)
    ]
    return pd.DataFrame(rows)


def panel_name(train_on: str, predict_on: str) -> str:
    """``"real->synthetic"`` etc.: the name of one of Table 3's four panels."""
    return f"{train_on}->{predict_on}"


def table3() -> pd.DataFrame:
    """VGM Table 3: MLP contingency counts for Option C, the four train/predict panels.

    Columns ``panel, train_on, predict_on, true, predicted, paper`` (a count); 4 panels ×
    5 × 5 class pairs, true class major, classes in :data:`NSLKDD_CLASSES` order. Row totals
    are the KDDTrain+ class counts in every panel (synthetic rows carry the real labels).
    """
    panels = {  # rows: true DoS, Normal, Probe, R2L, U2R; columns: predicted, same order
        ("real", "synthetic"): (
            (45712, 180, 35, 0, 0),
            (78, 67074, 59, 131, 1),
            (0, 314, 11321, 21, 0),
            (22, 105, 0, 868, 0),
            (1, 8, 3, 18, 22),
        ),
        ("real", "real"): (
            (45927, 0, 0, 0, 0),
            (9, 67299, 11, 22, 2),
            (2, 29, 11625, 0, 0),
            (0, 33, 0, 962, 0),
            (0, 13, 0, 0, 39),
        ),
        ("synthetic", "real"): (
            (45751, 120, 51, 5, 0),
            (622, 65002, 446, 1186, 87),
            (22, 436, 11181, 16, 1),
            (2, 47, 10, 912, 24),
            (0, 12, 0, 9, 31),
        ),
        ("synthetic", "synthetic"): (
            (45927, 0, 0, 0, 0),
            (0, 67343, 0, 0, 0),
            (0, 1, 11655, 0, 0),
            (0, 31, 0, 964, 0),
            (1, 1, 0, 0, 50),
        ),
    }
    rows = [
        {
            "panel": panel_name(train_on, predict_on),
            "train_on": train_on,
            "predict_on": predict_on,
            "true": true,
            "predicted": predicted,
            "paper": count,
        }
        for (train_on, predict_on) in COMBINATIONS
        for true, counts in zip(NSLKDD_CLASSES, panels[(train_on, predict_on)])
        for predicted, count in zip(NSLKDD_CLASSES, counts)
    ]
    return pd.DataFrame(rows)


def table4() -> pd.DataFrame:
    """VGM Table 4: mean and std of original − synthetic for the 40 features it lists.

    Columns ``index, feature, kind, mean, std``: ``index`` is the paper's 1-based column
    number in the 116-feature encoding (1-20 continuous, 97-116 one-hot ``service``),
    ``feature`` the paper's name, ``kind`` "continuous" or "discrete".
    """
    continuous = (
        ("duration", -0.0027, 0.1706),
        ("src_bytes", -0.0033, 0.1289),
        ("dst_bytes", 0.0029, 0.1466),
        ("wrong_fragment", 0.0001, 0.1138),
        ("hot", -0.0004, 0.0354),
        ("num_failed_logins", -0.0002, 0.0101),
        ("logged_in", 0.0014, 0.4817),
        ("num_compromised", -0.0008, 0.0248),
        ("root_shell", -0.0015, 0.0426),
        ("num_root", -0.0005, 0.0238),
        ("num_file_creations", -0.0001, 0.0119),
        ("num_access_files", -0.0003, 0.0126),
        ("is_guest_login", 0.0009, 0.1227),
        ("count", 0.0253, 0.2577),
        ("srv_count", 0.0049, 0.2522),
        ("serror_rate", 0.0080, 0.3914),
        ("srv_serror_rate", 0.0064, 0.3939),
        ("rerror_rate", 0.0061, 0.4225),
        ("srv_rerror_rate", 0.0075, 0.4256),
        ("same_srv_rate", -0.0052, 0.3355),
    )
    services = (
        ("red_i", 0.0000, 0.0080),
        ("remote_job", 0.0006, 0.0249),
        ("rje", 0.0007, 0.0261),
        ("shell", 0.0003, 0.0266),
        ("smtp", -0.0094, 0.3352),
        ("sql_net", 0.0019, 0.0441),
        ("ssh", 0.0020, 0.0546),
        ("sunrpc", 0.0020, 0.0633),
        ("supdup", 0.0043, 0.0660),
        ("systat", 0.0027, 0.0694),
        ("telnet", -0.0043, 0.2017),
        ("tftp_u", 0.0000, 0.0049),
        ("tim_i", 0.0000, 0.0132),
        ("time", 0.0029, 0.0864),
        ("urh_i", 0.0000, 0.0089),
        ("urp_i", -0.0006, 0.1002),
        ("uucp", -0.0118, 0.1532),
        ("uucp_path", 0.0034, 0.0868),
        ("vmnet", 0.0021, 0.0875),
        ("whois", 0.0043, 0.0813),
    )
    rows = [
        {"index": i, "feature": name, "kind": "continuous", "mean": mean, "std": std}
        for i, (name, mean, std) in enumerate(continuous, start=1)
    ] + [
        {"index": i, "feature": f"service={name}", "kind": "discrete", "mean": mean, "std": std}
        for i, (name, mean, std) in enumerate(services, start=97)
    ]
    return pd.DataFrame(rows)


TABLE6_METHODS: tuple[str, ...] = (
    "VGM (C)",
    "SMOTE",
    "Borderline SMOTE",
    "SMOTE+ENN",
    "SMOTE+Tomek",
    "SVM SMOTE",
    "EasyEnsemble",
    "ADASYN",
)


def table6() -> pd.DataFrame:
    """VGM Table 6: classifiers trained on a class-balanced KDDTrain+, tested on KDDTest+.

    Columns ``method, classifier, accuracy, f1_weighted`` (F1 = scikit-learn's weighted
    average); 8 methods × (4 classifiers + ``"Average"``, the paper's average column).
    """
    # Per method: accuracy for RF, LR, Linear SVM, MLP, average; then F1 in the same order.
    values = {
        "VGM (C)": ((0.7361, 0.7729, 0.7723, 0.7926, 0.7685), (0.6908, 0.7529, 0.7557, 0.7645, 0.7410)),
        "SMOTE": ((0.7298, 0.7717, 0.7758, 0.7795, 0.7642), (0.6840, 0.7483, 0.7634, 0.7455, 0.7353)),
        "Borderline SMOTE": ((0.7376, 0.7597, 0.7679, 0.7738, 0.7597), (0.6920, 0.7353, 0.7496, 0.7303, 0.7268)),
        "SMOTE+ENN": ((0.7294, 0.7533, 0.7675, 0.7795, 0.7574), (0.6819, 0.7208, 0.7517, 0.7428, 0.7243)),
        "SMOTE+Tomek": ((0.7324, 0.7548, 0.7657, 0.7889, 0.7605), (0.6847, 0.7254, 0.7501, 0.7573, 0.7294)),
        "SVM SMOTE": ((0.7425, 0.7629, 0.7799, 0.7798, 0.7663), (0.6993, 0.7474, 0.7723, 0.7406, 0.7399)),
        "EasyEnsemble": ((0.7373, 0.7749, 0.7721, 0.7782, 0.7656), (0.6910, 0.7528, 0.7541, 0.7579, 0.7390)),
        "ADASYN": ((0.7312, 0.7521, 0.7512, 0.7800, 0.7536), (0.6833, 0.7236, 0.7293, 0.7458, 0.7205)),
    }
    columns = ("Random Forest", "Logistic Regression", "Linear SVM", "MLP", "Average")
    rows = [
        {"method": method, "classifier": classifier, "accuracy": acc, "f1_weighted": f1}
        for method in TABLE6_METHODS
        for classifier, acc, f1 in zip(columns, *values[method])
    ]
    return pd.DataFrame(rows)


TABLE5_SCENARIOS: tuple[str, ...] = (
    "original",
    "original x2",
    "original x3",
    "original + 1 synthetic",
    "original + 2 synthetic",
    "original + balancing synthetic",
)


def table5_fragments() -> pd.DataFrame:
    """What survived the text extraction of VGM Table 5 (accuracy on KDDTest+).

    Columns ``classifier, option, scenario, paper, reading``. ``scenario`` is one of
    :data:`TABLE5_SCENARIOS`; ``reading`` says how sure the cell's placement is:

    * ``"certain"``: the row and column are legible (Random Forest and MLP on the original
      set and its repetitions, which do not depend on the option).
    * ``"probable"``: Random Forest's fourth value for Options A and B; it differs between
      the options, so it is a synthetic-extension column, read as the first of them.
    * ``"unplaced"``: Option C's 0.7549 with the balanced set, classifier unknown
      (``classifier`` is ``"unknown"``).

    Two more numbers float in the extracted text without row or column (0.7643, 0.7701) and
    are left out. The paper's claim: extending with synthetic data beats repetition, and the
    balancing set is best for Option C.
    """
    rows = []
    for option in ("A", "B", "C"):
        if option != "C":  # Option C's Random Forest row kept only one, unplaced value
            for scenario, value in zip(TABLE5_SCENARIOS[:3], (0.7388, 0.7389, 0.7390)):
                rows.append(("Random Forest", option, scenario, value, "certain"))
        for scenario, value in zip(TABLE5_SCENARIOS[:2], (0.7752, 0.7740)):
            rows.append(("MLP", option, scenario, value, "certain"))
    rows.append(("Random Forest", "A", "original + 1 synthetic", 0.7324, "probable"))
    rows.append(("Random Forest", "B", "original + 1 synthetic", 0.7414, "probable"))
    rows.append(("unknown", "C", "original + balancing synthetic", 0.7549, "unplaced"))
    return pd.DataFrame(rows, columns=["classifier", "option", "scenario", "paper", "reading"])


def table_i() -> pd.DataFrame:
    """MAGE-ID Table I: fidelity and utility of three generators on two datasets.

    Columns ``dataset, model, detectability, precision, recall, density, coverage, auc``
    (``auc`` = ROC AUC of a classifier trained on synthetic data, tested on real: MLE).
    """
    rows = [
        ("CIC-IDS-2017", "TabDDPM", 0.9356, 0.6993, 0.9496, 0.5210, 0.5957, 0.9937),
        ("CIC-IDS-2017", "TabSyn", 0.9498, 0.4894, 0.9586, 0.3140, 0.3814, 0.9976),
        ("CIC-IDS-2017", "MAGE-ID", 0.9974, 0.7562, 0.9795, 0.5959, 0.7017, 0.9997),
        ("NSL-KDD", "TabDDPM", 0.9020, 0.7541, 0.9774, 0.5801, 0.6264, 0.9683),
        ("NSL-KDD", "TabSyn", 0.9408, 0.6553, 0.9786, 0.4877, 0.6465, 0.9809),
        ("NSL-KDD", "MAGE-ID", 0.9543, 0.7978, 0.9808, 0.6245, 0.6882, 0.9993),
    ]
    return pd.DataFrame(
        rows, columns=["dataset", "model", "detectability", "precision", "recall", "density", "coverage", "auc"]
    )
