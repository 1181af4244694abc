"""Proof that every nbgrader assignment (each ``solutions/<id>/``) works.

For each assignment (one test class, so ``pytest -n auto --dist loadscope`` keeps its tests on one
worker), a temporary copy of the course (``nbgrader_config.py``, ``solutions/``, ``exercises/``)
is made and, in one ``nbgrader autograde`` run, these submissions are graded:

* ``solution``: the release with every answer cell filled from the instructor's source → full marks;
* ``blank``: the untouched release → zero;
* one submission per entry of ``MISTAKES[assignment]`` (a small code variant applied to the
  solution) → less than full marks, and the graded cells' output names the mistake;
* tampering: test cells edited or deleted, by a learner who answered nothing (→ zero), who answered
  everything (deleted tests → full marks, i.e. the instructor's tests were put back and run), or
  who made a mistake and replaced the tests by ``pass`` (→ still caught).

The release is also regenerated from ``solutions/`` and must equal the committed ``exercises/``.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ASSIGNMENTS, BIN, REPO, tool_env

POINTS = 10  # every assignment totals 10 points

# {assignment: {mistake: (snippet in the solution, replacement, phrase expected in the feedback)}}
MISTAKES: dict[str, dict[str, tuple[str, str, str]]] = {
    "ex01-penalty": {
        "norm-not-squared": (
            "return float(lam * np.sum(w**2))",
            "return float(lam * np.linalg.norm(w))",
            "not the squared norm",
        ),
        "abs-instead-of-square": (
            "return float(lam * np.sum(w**2))",
            "return float(lam * np.sum(np.abs(w)))",
            "which is the L1 penalty",
        ),
        "half-factor": (
            "return float(lam * np.sum(w**2))",
            "return float(lam * np.sum(w**2) / 2)",
            "a factor 1/2",
        ),
        "missing-return": (
            "return float(lam * np.sum(w**2))",
            "float(lam * np.sum(w**2))",
            "returned None",
        ),
        "penalises-bias": (
            "return float(np.mean(residuals**2) + l2_penalty(w, lam))",
            "return float(np.mean(residuals**2) + l2_penalty(w, lam) + lam * b**2)",
            "penalising the bias",
        ),
        "sum-instead-of-mean": (
            "return float(np.mean(residuals**2) + l2_penalty(w, lam))",
            "return float(np.sum(residuals**2) + l2_penalty(w, lam))",
            "sum over samples instead of the mean",
        ),
        "forgets-intercept": (
            "residuals = y - X @ w - b",
            "residuals = y - X @ w",
            "forgetting the intercept",
        ),
        "sklearn-alpha-scaling": (
            "return float(np.mean(residuals**2) + l2_penalty(w, lam))",
            "return float(np.mean(residuals**2) + len(y) * l2_penalty(w, lam))",
            "scaled by n",
        ),
    },
    "ex02-mechanism": {
        "gradient-missing-2": (
            "grad_w = -2.0 / n * (X.T @ residuals) + 2.0 * lam * w",
            "grad_w = -1.0 / n * (X.T @ residuals) + 2.0 * lam * w",
            "missing factor 2 in the data term",
        ),
        "penalty-gradient-missing-2": (
            "grad_w = -2.0 / n * (X.T @ residuals) + 2.0 * lam * w",
            "grad_w = -2.0 / n * (X.T @ residuals) + lam * w",
            "missing factor 2 on the penalty",
        ),
        "gradient-sum-not-mean": (
            "grad_w = -2.0 / n * (X.T @ residuals) + 2.0 * lam * w",
            "grad_w = -2.0 * (X.T @ residuals) + 2.0 * lam * w",
            "sum over samples instead of the mean",
        ),
        "gradient-penalises-bias": (
            "grad_b = -2.0 / n * np.sum(residuals)",
            "grad_b = -2.0 / n * np.sum(residuals) + 2.0 * lam * b",
            "penalising the bias",
        ),
        "decay-half-convention": (
            "return (1.0 - 2.0 * lr * lam) * w - lr * grad_data",
            "return (1.0 - lr * lam) * w - lr * grad_data",
            "the 1/2 convention",
        ),
        "no-decay": (
            "return (1.0 - 2.0 * lr * lam) * w - lr * grad_data",
            "return w - lr * grad_data",
            "no weight decay",
        ),
        "closed-form-forgets-n": (
            "w = np.linalg.solve(Xc.T @ Xc + n * lam * np.eye(p), Xc.T @ yc)",
            "w = np.linalg.solve(Xc.T @ Xc + lam * np.eye(p), Xc.T @ yc)",
            "forgetting n",
        ),
        "closed-form-penalises-intercept": (
            "w = np.linalg.solve(Xc.T @ Xc + n * lam * np.eye(p), Xc.T @ yc)\n    b = y_mean - x_mean @ w",
            "A = np.column_stack([X, np.ones(n)])\n"
            "    theta = np.linalg.solve(A.T @ A + n * lam * np.eye(p + 1), A.T @ y)\n"
            "    w, b = theta[:p], theta[p]",
            "penalising the intercept",
        ),
        "intercept-is-mean-y": (
            "b = y_mean - x_mean @ w",
            "b = y_mean",
            "not simply the mean of y",
        ),
    },
    "ex03-l1-vs-l2": {
        "ridge-half-convention": (
            "return np.asarray(z, dtype=float) / (1.0 + 2.0 * lam)",
            "return np.asarray(z, dtype=float) / (1.0 + lam)",
            "z/(1 + lam)",
        ),
        "ridge-loses-sign": (
            "return np.asarray(z, dtype=float) / (1.0 + 2.0 * lam)",
            "return np.abs(np.asarray(z, dtype=float)) / (1.0 + 2.0 * lam)",
            "losing the sign of z",
        ),
        "ridge-scalar-only": (
            "return np.asarray(z, dtype=float) / (1.0 + 2.0 * lam)",
            "return float(z) / (1.0 + 2.0 * lam)",
            "must work elementwise",
        ),
        "soft-positive-only": (
            "return np.sign(z) * np.maximum(np.abs(z) - lam, 0.0)",
            "return np.maximum(z - lam, 0.0)",
            "right only for positive z",
        ),
        "soft-no-clipping": (
            "return np.sign(z) * np.maximum(np.abs(z) - lam, 0.0)",
            "return np.sign(z) * (np.abs(z) - lam)",
            "missing max(|z| - lam, 0)",
        ),
        "hard-threshold": (
            "return np.sign(z) * np.maximum(np.abs(z) - lam, 0.0)",
            "return z * (np.abs(z) > lam)",
            "hard thresholding",
        ),
        "soft-if-else": (
            "return np.sign(z) * np.maximum(np.abs(z) - lam, 0.0)",
            "if abs(z) <= lam:\n        return 0.0\n    return z - lam if z > 0 else z + lam",
            "must work elementwise",
        ),
        "zeros-with-tolerance": (
            "return int(np.sum(np.asarray(coef) == 0))",
            "return int(np.sum(np.isclose(coef, 0.0)))",
            "only entries exactly equal to 0 count",
        ),
        "counts-nonzeros": (
            "return int(np.sum(np.asarray(coef) == 0))",
            "return int(np.count_nonzero(coef))",
            "non-zero entries instead of the zeros",
        ),
        "ridge-first-order": (
            "return np.asarray(z, dtype=float) / (1.0 + 2.0 * lam)",
            "return np.asarray(z, dtype=float) * (1.0 - 2.0 * lam)",
            "first-order approximation",
        ),
    },
    "ex04-claims": {
        "dof-singular-values-not-squared": (
            "return float(np.sum(d**2 / (d**2 + lam)))",
            "return float(np.sum(d / (d + lam)))",
            "instead of their squares",
        ),
        "dof-complement": (
            "return float(np.sum(d**2 / (d**2 + lam)))",
            "return float(np.sum(lam / (d**2 + lam)))",
            "shrunk-away part",
        ),
        "dof-eigenvalues-squared-again": (
            "d = np.linalg.svd(np.asarray(X, dtype=float), compute_uv=False)",
            "d = np.linalg.eigvalsh(np.asarray(X, dtype=float).T @ np.asarray(X, dtype=float))",
            "eigenvalues of XᵀX",
        ),
        "dof-lam-times-n": (
            "return float(np.sum(d**2 / (d**2 + lam)))",
            "return float(np.sum(d**2 / (d**2 + len(X) * lam)))",
            "multiplied by n",
        ),
        "believes-c5-sparse": ('"C5": "false"', '"C5": "true"', "exactly zero only by coincidence"),
        "believes-c1-biases": ('"C1": "misleading"', '"C1": "true"', "penalises the weights only"),
        "believes-c4-more-accurate": ('"C4": "false"', '"C4": "true"', "neither penalty wins"),
        "c10-misleading": ('"C10": "false"', '"C10": "misleading"', "no optimizer has a `penalty` argument"),
        "c4-misleading": ('"C4": "false"', '"C4": "misleading"', "a general rule that holds only for some data"),
        "c7-false": ('"C7": "misleading"', '"C7": "false"', "the correct part is that L2 introduces bias"),
        "c9-true": ('"C9": "misleading"', '"C9": "true"', "falls roughly as 1/batch"),
        "c6-half-true-label": (
            '"C6": "misleading"',
            '"C6": "misleading (half true)"',
            'write just "misleading"',
        ),
    },
    "ex05-implementation": {
        "alpha-forgets-n": ("return n_samples * lam", "return lam", "forgetting n"),
        "torch-wd-equals-lam": ("return 2.0 * lam", "return lam", "wd = lam"),
        "logistic-missing-2": (
            "return 1.0 / (2.0 * n_samples * lam)",
            "return 1.0 / (n_samples * lam)",
            "missing factor 2",
        ),
        "logistic-not-inverted": (
            "return 1.0 / (2.0 * n_samples * lam)",
            "return 2.0 * n_samples * lam",
            "C is the inverse of the regularization strength",
        ),
        "folds-by-array-split": (
            "val = np.arange(bounds[i], bounds[i + 1])",
            "val = np.array_split(np.arange(n), k)[i]",
            "np.array_split",
        ),
        "folds-by-kfold": (
            "val = np.arange(bounds[i], bounds[i + 1])",
            "val = list(__import__('sklearn.model_selection').model_selection.KFold(k).split(X))[i][1]",
            "KFold(shuffle=False)",
        ),
        "validation-leakage": (
            "train = np.setdiff1d(np.arange(n), val)",
            "train = np.arange(n)",
            "leakage of the validation fold",
        ),
        "shuffled-folds": (
            "bounds = [i * n // k for i in range(k + 1)]",
            "bounds = [i * n // k for i in range(k + 1)]\n"
            "    perm = np.random.default_rng().permutation(n)\n"
            "    X, y = X[perm], y[perm]",
            "are you shuffling the rows?",
        ),
        "shuffled-folds-seeded": (
            "bounds = [i * n // k for i in range(k + 1)]",
            "bounds = [i * n // k for i in range(k + 1)]\n"
            "    perm = np.random.default_rng(0).permutation(n)\n"
            "    X, y = X[perm], y[perm]",
            "folds must be contiguous and unshuffled",
        ),
        "ties-to-first": (
            "best_lam = max(lams[i] for i in tied)",
            "best_lam = lams[int(np.argmin(mean_val_mse))]",
            "ties going to the first",
        ),
        "sum-over-folds": (
            "mean_val_mse[j] = np.mean(fold_mse)",
            "mean_val_mse[j] = np.sum(fold_mse)",
            "sum over folds",
        ),
    },
    "ex06-choosing-lambda": {
        "evidence-forgets-n": (
            "return float(lambda_ / (n_samples * alpha_))",
            "return float(lambda_ / alpha_)",
            "forgetting n",
        ),
        "evidence-swapped": (
            "return float(lambda_ / (n_samples * alpha_))",
            "return float(alpha_ / (n_samples * lambda_))",
            "alpha_ and lambda_ swapped",
        ),
        "evidence-forgets-alpha": (
            "return float(lambda_ / (n_samples * alpha_))",
            "return float(lambda_ / n_samples)",
            "forgetting alpha_",
        ),
        "loo-leverage-without-mean": (
            "leverage = 1.0 / n + np.sum(Xc * np.linalg.solve(A, Xc.T).T, axis=1)",
            "leverage = np.sum(Xc * np.linalg.solve(A, Xc.T).T, axis=1)",
            "without the intercept's 1/n",
        ),
        "loo-plain-residuals": (
            "return residuals / (1.0 - leverage)",
            "return residuals",
            "not divided by 1 - H_ii",
        ),
        "loo-forgets-n": (
            "A = Xc.T @ Xc + n * lam * np.eye(p)",
            "A = Xc.T @ Xc + lam * np.eye(p)",
            "forgetting n",
        ),
        "loo-centres-in-place": (
            "Xc = X - x_mean",
            "X -= x_mean\n    Xc = X",
            "in place",
        ),
        "loo-column-y": (
            "y = np.asarray(y, dtype=float)\n    n, p = X.shape",
            "y = np.asarray(y, dtype=float).reshape(-1, 1)\n    n, p = X.shape",
            "expected shape",
        ),
        "gcv-trace-without-intercept": (
            "return float(np.mean(fit_residuals**2) / (1.0 - (1.0 + df) / n) ** 2)",
            "return float(np.mean(fit_residuals**2) / (1.0 - df / n) ** 2)",
            "without the intercept's 1",
        ),
        "gcv-denominator-not-squared": (
            "return float(np.mean(fit_residuals**2) / (1.0 - (1.0 + df) / n) ** 2)",
            "return float(np.mean(fit_residuals**2) / (1.0 - (1.0 + df) / n))",
            "not squared",
        ),
        "gcv-singular-values-not-squared": (
            "df = np.sum(d**2 / (d**2 + n * lam))",
            "df = np.sum(d / (d + n * lam))",
            "singular values not squared",
        ),
        "gcv-forgets-n": (
            "df = np.sum(d**2 / (d**2 + n * lam))\n"
            "    w = np.linalg.solve(Xc.T @ Xc + n * lam * np.eye",
            "df = np.sum(d**2 / (d**2 + lam))\n"
            "    w = np.linalg.solve(Xc.T @ Xc + lam * np.eye",
            "forgetting n",
        ),
        "one-se-wrong-direction": (
            "return np.max(lams[mean_err <= threshold])",
            "return np.min(lams[mean_err <= threshold])",
            "the wrong direction",
        ),
        "one-se-strict": (
            "return np.max(lams[mean_err <= threshold])",
            "return np.max(lams[mean_err < threshold])",
            "a strict '<'",
        ),
        "one-se-assumes-sorted": (
            "return np.max(lams[mean_err <= threshold])",
            "return lams[np.flatnonzero(mean_err <= threshold)[-1]]",
            "as if the grid were sorted",
        ),
        "one-se-ties-to-first": (
            "best = at_min[np.argmax(lams[at_min])]",
            "best = int(np.argmin(mean_err))",
            "ties going to the first",
        ),
        "one-se-sorts-in-place": (
            "lams = np.asarray(lams, dtype=float)\n    mean_err",
            "lams.sort()\n    lams = np.asarray(lams, dtype=float)\n    mean_err",
            "changed its inputs in place",
        ),
        "one-se-returns-int": (
            "lams = np.asarray(lams, dtype=float)\n    mean_err",
            "lams = np.asarray(lams)\n    mean_err",
            "must return a float",
        ),
    },
    "ex08-high-dimensions": {
        "dual-forgets-n": (
            "alpha = np.linalg.solve(Xc @ Xc.T + n * lam * np.eye(n), yc)",
            "alpha = np.linalg.solve(Xc @ Xc.T + lam * np.eye(n), yc)",
            "forgetting n",
        ),
        "dual-penalises-intercept": (
            "x_mean, y_mean = X.mean(axis=0), y.mean()\n"
            "    Xc, yc = X - x_mean, y - y_mean\n"
            "    alpha = np.linalg.solve(Xc @ Xc.T + n * lam * np.eye(n), yc)\n"
            "    w = Xc.T @ alpha\n"
            "    return w, float(y_mean - x_mean @ w)",
            "A = np.column_stack([X, np.ones(n)])\n"
            "    theta = A.T @ np.linalg.solve(A @ A.T + n * lam * np.eye(n), y)\n"
            "    return theta[:-1], float(theta[-1])",
            "penalising the intercept",
        ),
        "dual-returns-alpha": (
            "return w, float(y_mean - x_mean @ w)",
            "return alpha, float(y_mean - x_mean @ w)",
            "that is the dual coefficients alpha",
        ),
        "dual-order-b-w": (
            "return w, float(y_mean - x_mean @ w)",
            "return float(y_mean - x_mean @ w), w",
            "ridge_dual returned (b, w)",
        ),
        "dual-mutates-input": (
            "Xc, yc = X - x_mean, y - y_mean",
            "X -= x_mean\n    y -= y_mean\n    Xc, yc = X, y",
            "changed the caller's X or y in place",
        ),
        "dual-list-no-asarray": (
            "X = np.asarray(X, dtype=float)\n    y = np.asarray(y, dtype=float)\n    n = X.shape[0]",
            "n = X.shape[0]",
            "convert with np.asarray(X, dtype=float) first",
        ),
        "dual-int-inplace": (
            "X = np.asarray(X, dtype=float)\n"
            "    y = np.asarray(y, dtype=float)\n"
            "    n = X.shape[0]\n"
            "    x_mean, y_mean = X.mean(axis=0), y.mean()\n"
            "    Xc, yc = X - x_mean, y - y_mean",
            "X = np.asarray(X)\n"
            "    y = np.asarray(y)\n"
            "    n = X.shape[0]\n"
            "    x_mean, y_mean = X.mean(axis=0), y.mean()\n"
            "    X -= x_mean\n"
            "    y -= y_mean\n"
            "    Xc, yc = X, y",
            "failed on integer inputs",
        ),
        "min-norm-intercept-in-norm": (
            "w = np.linalg.lstsq(X - x_bar, y - y.mean(), rcond=None)[0]\n    return w, float(y.mean() - x_bar @ w)",
            "theta = np.linalg.pinv(np.column_stack([X, np.ones(len(y))])) @ y\n"
            "    return theta[:-1], float(theta[-1])",
            "putting the intercept inside the minimised norm",
        ),
        "min-norm-no-intercept": (
            "w = np.linalg.lstsq(X - x_bar, y - y.mean(), rcond=None)[0]\n    return w, float(y.mean() - x_bar @ w)",
            "return np.linalg.pinv(X) @ y, 0.0",
            "forgetting the intercept",
        ),
        "kernel-forgets-n": (
            "alpha = np.linalg.solve(H @ K @ H + n * lam * np.eye(n), y - y.mean())",
            "alpha = np.linalg.solve(H @ K @ H + lam * np.eye(n), y - y.mean())",
            "forgetting n",
        ),
        "kernel-no-intercept": (
            "alpha = np.linalg.solve(H @ K @ H + n * lam * np.eye(n), y - y.mean())\n"
            "    b = y.mean() - np.mean(K @ alpha)",
            "alpha = np.linalg.solve(K + n * lam * np.eye(n), y)\n    b = 0.0",
            "no intercept (KernelRidge on raw y)",
        ),
        "kernel-centres-y-only": (
            "alpha = np.linalg.solve(H @ K @ H + n * lam * np.eye(n), y - y.mean())\n"
            "    b = y.mean() - np.mean(K @ alpha)",
            "alpha = np.linalg.solve(K + n * lam * np.eye(n), y - y.mean())\n    b = y.mean()",
            "centring y but not the kernel",
        ),
        "kernel-new-transposed": (
            "return np.asarray(K_new, dtype=float) @ alpha + b",
            "return np.asarray(K_new, dtype=float).T @ alpha + b",
            "one row per new point",
        ),
        "kernel-diagonal-in-place": (
            "alpha = np.linalg.solve(H @ K @ H + n * lam * np.eye(n), y - y.mean())",
            "K[np.diag_indices(n)] += n * lam\n    alpha = np.linalg.solve(H @ K @ H, y - y.mean())",
            "in place",
        ),
    },
    "ex07-deep-networks": {
        "adam-no-bias-correction": (
            "    m_hat = m_new / (1.0 - beta1**t)\n    v_hat = v_new / (1.0 - beta2**t)\n    w_new = w - lr",
            "    m_hat = m_new\n    v_hat = v_new\n    w_new = w - lr",
            "no bias correction",
        ),
        "adam-penalty-gradient-lam": (
            "+ 2.0 * lam * w", "+ lam * w", "λ·w instead of 2λ·w",
        ),
        "adam-decoupled-instead-of-coupled": (
            "    g = np.asarray(grad, dtype=float) + 2.0 * lam * w",
            "    g = np.asarray(grad, dtype=float)\n    w = (1.0 - 2.0 * lr * lam) * w",
            "decoupled decay (AdamW's shrinking of w) instead of the L2 penalty's gradient",
        ),
        "adam-eps-inside-sqrt": (
            "w_new = w - lr * m_hat / (np.sqrt(v_hat) + eps)",
            "w_new = w - lr * m_hat / np.sqrt(v_hat + eps)",
            "ε inside the square root",
        ),
        "adam-mutates-m-in-place": (
            "    m_new = beta1 * np.asarray(m, dtype=float) + (1.0 - beta1) * g\n",
            "    m_new = np.asarray(m, dtype=float)\n    m_new *= beta1\n    m_new += (1.0 - beta1) * g\n",
            "changed its input `m` in place",
        ),
        "adam-column-vector-shape": (
            "    w = np.asarray(w, dtype=float)\n    g = ",
            "    w = np.asarray(w, dtype=float).reshape(-1, 1)\n    g = ",
            "keep the shape of w",
        ),
        "adam-eps-uncorrected-v": (
            "    m_hat = m_new / (1.0 - beta1**t)\n    v_hat = v_new / (1.0 - beta2**t)\n    w_new = w - lr * m_hat / (np.sqrt(v_hat) + eps)",
            "    step = lr * np.sqrt(1.0 - beta2**t) / (1.0 - beta1**t)\n    w_new = w - step * m_new / (np.sqrt(v_new) + eps)",
            "ε added to the uncorrected √v",
        ),
        "adam-bias-correction-t-minus-1": (
            "    m_hat = m_new / (1.0 - beta1**t)\n    v_hat = v_new / (1.0 - beta2**t)\n    w_new = w - lr",
            "    m_hat = m_new / (1.0 - beta1**(t - 1))\n    v_hat = v_new / (1.0 - beta2**(t - 1))\n    w_new = w - lr",
            "bias correction with t − 1",
        ),
        "adamw-eps-uncorrected-v": (
            "    m_hat = m_new / (1.0 - beta1**t)\n    v_hat = v_new / (1.0 - beta2**t)\n"
            "    w_new = w_decayed - lr * m_hat / (np.sqrt(v_hat) + eps)",
            "    step = lr * np.sqrt(1.0 - beta2**t) / (1.0 - beta1**t)\n"
            "    w_new = w_decayed - step * m_new / (np.sqrt(v_new) + eps)",
            "ε added to the uncorrected √v",
        ),
        "adamw-coupled": (
            "    grad = np.asarray(grad, dtype=float)\n    w_decayed = (1.0 - lr * weight_decay) * w",
            "    grad = np.asarray(grad, dtype=float) + weight_decay * w\n    w_decayed = w",
            "coupled decay",
        ),
        "adamw-decay-after-update": (
            "    w_new = w_decayed - lr * m_hat / (np.sqrt(v_hat) + eps)",
            "    w_new = (1.0 - lr * weight_decay) * (w - lr * m_hat / (np.sqrt(v_hat) + eps))",
            "decay applied after the Adam update",
        ),
        "adamw-decay-without-lr": (
            "w_decayed = (1.0 - lr * weight_decay) * w",
            "w_decayed = (1.0 - weight_decay) * w",
            "without the learning rate",
        ),
        "adamw-integer-dtype": (
            "    w = np.asarray(w, dtype=float)\n    grad = np.asarray(grad, dtype=float)\n"
            "    w_decayed = (1.0 - lr * weight_decay) * w",
            "    grad = np.asarray(grad, dtype=float)\n    w_decayed = np.copy(w)\n"
            "    w_decayed *= 1.0 - lr * weight_decay",
            "failed on integer inputs",
        ),
        "early-stopping-alpha": (
            "return 1.0 / (2.0 * lr * n_steps)", "return 1.0 / (lr * n_steps)", "(α/2)‖w‖²",
        ),
        "early-stopping-not-inverted": (
            "return 1.0 / (2.0 * lr * n_steps)", "return 2.0 * lr * n_steps",
            "longer training means a smaller λ",
        ),
    },
}


# {assignment: {variant: (snippet, replacement, phrase that must NOT appear)}}: wrong answers that
# must lose points without being given a diagnosis that does not fit them
MISDIAGNOSED: dict[str, dict[str, tuple[str, str, str]]] = {
    "ex03-l1-vs-l2": {
        # all zeros once matched "a first-order approximation" (at lam = 0.5 it gives zeros)
        "ridge-returns-zeros": (
            "return np.asarray(z, dtype=float) / (1.0 + 2.0 * lam)",
            "return np.zeros_like(np.asarray(z, dtype=float))",
            "first-order approximation",
        ),
    },
}


# {assignment: {variant: (snippet, replacement)}}: correct alternatives that must keep full marks
ACCEPTED: dict[str, dict[str, tuple[str, str]]] = {
    "ex03-l1-vs-l2": {
        "where-instead-of-sign": (
            "return np.sign(z) * np.maximum(np.abs(z) - lam, 0.0)",
            "return np.where(z > lam, z - lam, np.where(z < -lam, z + lam, 0.0))",
        ),
    },
    "ex08-high-dimensions": {
        "min-norm-by-pinv-rtol": (
            "w = np.linalg.lstsq(X - x_bar, y - y.mean(), rcond=None)[0]",
            "Xc = X - x_bar\n    w = np.linalg.pinv(Xc, rtol=max(Xc.shape) * np.finfo(float).eps) @ (y - y.mean())",
        ),
        "kernel-centring-by-means": (
            "H = np.eye(n) - 1.0 / n",
            "H = np.eye(n) - np.ones((n, n)) / n",
        ),
    },
    "ex02-mechanism": {
        "inverse-instead-of-solve": (
            "w = np.linalg.solve(Xc.T @ Xc + n * lam * np.eye(p), Xc.T @ yc)",
            "w = np.linalg.inv(Xc.T @ Xc + n * lam * np.eye(p)) @ (Xc.T @ yc)",
        ),
    },
}


# --------------------------------------------------------------------------------------------
# notebook helpers


def read_nb(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def write_nb(path: Path, nb: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def src(cell: dict) -> str:
    s = cell["source"]
    return s if isinstance(s, str) else "".join(s)


def nbg(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test(cell: dict) -> bool:
    return bool(nbg(cell).get("grade")) and not nbg(cell).get("solution")


def strip_markers(code: str) -> str:
    return "\n".join(
        line
        for line in code.splitlines()
        if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
    )


def solution_lines(aid: str) -> list[str]:
    """Non-trivial lines written between the SOLUTION markers of the instructor's source."""
    lines: list[str] = []
    for cell in read_nb(REPO / "solutions" / aid / f"{aid}.ipynb")["cells"]:
        inside = False
        for line in src(cell).splitlines():
            if line.strip() == "### BEGIN SOLUTION":
                inside = True
            elif line.strip() == "### END SOLUTION":
                inside = False
            elif inside and len(line.strip()) > 25:
                lines.append(line.strip())
    return lines


def filled(aid: str, release: dict) -> dict:
    """The release with each answer cell replaced by the instructor's code (what a learner writes)."""
    answers = {
        nbg(c)["grade_id"]: strip_markers(src(c))
        for c in read_nb(REPO / "solutions" / aid / f"{aid}.ipynb")["cells"]
        if nbg(c).get("solution")
    }
    nb = copy.deepcopy(release)
    for cell in nb["cells"]:
        if nbg(cell).get("solution"):
            cell["source"] = answers[nbg(cell)["grade_id"]]
    return nb


def with_mistake(nb: dict, old: str, new: str) -> dict:
    nb = copy.deepcopy(nb)
    hits = [c for c in nb["cells"] if nbg(c).get("solution") and old in src(c)]
    assert len(hits) == 1 and src(hits[0]).count(old) == 1, f"snippet not unique: {old!r}"
    hits[0]["source"] = src(hits[0]).replace(old, new)
    return nb


def with_tests_replaced(nb: dict, code: str) -> dict:
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if is_test(cell):
            cell["source"] = code
    return nb


def with_tests_deleted(nb: dict) -> dict:
    nb = copy.deepcopy(nb)
    nb["cells"] = [c for c in nb["cells"] if not is_test(c)]
    return nb


def cell_output_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append(out["text"] if isinstance(out["text"], str) else "".join(out["text"]))
        elif out["output_type"] == "error":
            parts.append(f"{out['ename']}: {out['evalue']}\n" + "\n".join(out["traceback"]))
        else:
            parts.append(json.dumps(out.get("data", {})))
    return "\n".join(parts)


ANSI = re.compile(r"\x1b\[[0-9;]*m")


# --------------------------------------------------------------------------------------------
# one autograde run per assignment


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "nbgrader"), *args],
        cwd=course,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=1800,
    )


class Graded:
    """Scores, per-cell grades and output text of every submission of one assignment."""

    def __init__(self, aid: str, course: Path, students: list[str], log: str):
        from nbgrader.api import Gradebook

        self.aid, self.course, self.log = aid, course, log
        self.score: dict[str, float] = {}
        self.max_score: dict[str, float] = {}
        self.manual: dict[str, bool] = {}
        self.text: dict[str, str] = {}
        self.stderr: dict[str, str] = {}
        self.graded_ids: dict[str, list[str]] = {}
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "l2-regularization") as gb:
            for s in students:
                sub = gb.find_submission(self.aid, s)
                self.score[s], self.max_score[s] = sub.score, sub.max_score
                self.manual[s] = sub.needs_manual_grade
        for s in students:
            nb = read_nb(course / "autograded" / s / aid / f"{aid}.ipynb")
            grade_cells = [c for c in nb["cells"] if is_test(c)]
            self.graded_ids[s] = [nbg(c)["grade_id"] for c in grade_cells]
            self.text[s] = ANSI.sub("", "\n".join(cell_output_text(c) for c in grade_cells))
            self.stderr[s] = "".join(
                out.get("text", "") if isinstance(out.get("text", ""), str) else "".join(out["text"])
                for c in nb["cells"]
                for out in c.get("outputs", [])
                if out["output_type"] == "stream" and out.get("name") == "stderr"
            )


def grade_assignment(aid: str, tmp: Path) -> Graded:
    course = tmp / "course"
    course.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "solutions", course / "solutions")
    shutil.copytree(REPO / "exercises", course / "exercises")
    gen = nbgrader(course, "generate_assignment", aid, "--force")
    assert gen.returncode == 0, gen.stdout + gen.stderr

    release = read_nb(REPO / "exercises" / aid / f"{aid}.ipynb")
    solved = filled(aid, release)
    submissions = {
        "solution": solved,
        "blank": release,
        "tamper_edit_blank": with_tests_replaced(release, 'print("all tests passed")'),
        "tamper_delete_blank": with_tests_deleted(release),
        "tamper_delete_solved": with_tests_deleted(solved),
    }
    for first_old, first_new, _ in list(MISTAKES.get(aid, {}).values())[:1]:
        submissions["tamper_edit_mistake"] = with_tests_replaced(
            with_mistake(solved, first_old, first_new), "pass")
    for name, (old, new, _) in MISTAKES.get(aid, {}).items():
        submissions["mistake_" + name.replace("-", "_")] = with_mistake(solved, old, new)
    for name, (old, new) in ACCEPTED.get(aid, {}).items():
        submissions["accepted_" + name.replace("-", "_")] = with_mistake(solved, old, new)
    for name, (old, new, _) in MISDIAGNOSED.get(aid, {}).items():
        submissions["misdiagnosed_" + name.replace("-", "_")] = with_mistake(solved, old, new)
    for student, nb in submissions.items():
        write_nb(course / "submitted" / student / aid / f"{aid}.ipynb", nb)
    run = nbgrader(course, "autograde", aid, "--force")
    assert run.returncode == 0, run.stdout + run.stderr
    return Graded(aid, course, list(submissions), run.stdout + run.stderr)


# --------------------------------------------------------------------------------------------
# the tests: one class per assignment, sharing one autograde run


class _Assignment:
    aid = ""

    @pytest.fixture(scope="class")
    @classmethod
    def graded(cls, tmp_path_factory) -> Graded:
        return grade_assignment(cls.aid, tmp_path_factory.mktemp(cls.aid))

    @property
    def source(self) -> dict:
        return read_nb(REPO / "solutions" / self.aid / f"{self.aid}.ipynb")

    @property
    def release(self) -> dict:
        return read_nb(REPO / "exercises" / self.aid / f"{self.aid}.ipynb")

    # ---- static checks on the source (fast)

    def test_source_metadata(self):
        cells = self.source["cells"]
        ids = [nbg(c)["grade_id"] for c in cells if nbg(c)]
        assert len(ids) == len(set(ids)), f"duplicate grade_ids: {ids}"
        assert all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids)
        for cell in cells:
            meta = nbg(cell)
            if not meta:
                continue
            assert meta["schema_version"] == 3
            code = src(cell)
            if is_test(cell):
                assert meta["locked"], f"test cell {meta['grade_id']} is not locked"
                assert "### BEGIN SOLUTION" not in code
                last = ast.parse(code).body[-1]
                assert not (isinstance(last, ast.Expr) and isinstance(last.value, ast.Constant)), (
                    f"{meta['grade_id']} ends with a bare value (nbgrader would take it as partial credit)"
                )
                assert not re.search(r"^\s*(import|from)\s+(solutions|l2course)\b", code, re.M), (
                    f"{meta['grade_id']} imports the solution or the course tooling"
                )
                assert "solutions/" not in code, f"{meta['grade_id']} reads the instructor's files"
            if meta.get("solution"):
                assert "### BEGIN SOLUTION" in code and "### END SOLUTION" in code
                assert "HIDDEN TESTS" not in code
        assert sum(nbg(c).get("points", 0) for c in cells if is_test(c)) == POINTS
        assert any("How this is graded" in src(c) for c in cells if c["cell_type"] == "markdown")

    def test_release_has_no_solution_or_hidden_test(self):
        text = json.dumps(self.release)
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
        leaked = [line for line in solution_lines(self.aid) if line in "\n".join(
            src(c) for c in self.release["cells"])]
        assert not leaked, f"solution lines in the release: {leaked}"
        assert all(not c.get("outputs") for c in self.release["cells"] if c["cell_type"] == "code")

    def test_mistake_catalogue_is_large_enough(self):
        assert len(MISTAKES.get(self.aid, {})) >= 5, (
            f"{self.aid}: list at least 5 plausible mistakes in MISTAKES (tests/test_exercises.py)")

    # ---- one autograde run

    @pytest.mark.grading
    def test_release_is_regenerated_exactly(self, graded):
        regenerated = graded.course / "exercises" / self.aid / f"{self.aid}.ipynb"
        committed = REPO / "exercises" / self.aid / f"{self.aid}.ipynb"
        assert regenerated.read_text() == committed.read_text(), (
            f"exercises/{self.aid} is stale: run `.venv/bin/l2course release {self.aid}`"
        )

    @pytest.mark.grading
    def test_solution_scores_full_marks(self, graded):
        assert graded.max_score["solution"] == POINTS
        assert graded.score["solution"] == POINTS, graded.text["solution"]
        assert not graded.manual["solution"]
        assert graded.stderr["solution"] == "", graded.stderr["solution"]

    @pytest.mark.grading
    def test_blank_release_scores_zero(self, graded):
        assert graded.score["blank"] == 0
        assert "NotImplementedError" in graded.text["blank"]

    @pytest.mark.grading
    @pytest.mark.parametrize("student", ["tamper_edit_blank", "tamper_delete_blank"])
    def test_tampered_tests_still_grade_an_empty_answer_zero(self, graded, student):
        assert graded.score[student] == 0, graded.text[student]
        assert not graded.manual[student]
        assert graded.graded_ids[student] == graded.graded_ids["solution"]

    @pytest.mark.grading
    def test_deleted_tests_are_put_back_and_run(self, graded):
        assert graded.score["tamper_delete_solved"] == POINTS, graded.text["tamper_delete_solved"]
        assert graded.graded_ids["tamper_delete_solved"] == graded.graded_ids["solution"]

    @pytest.mark.grading
    def test_edited_tests_still_catch_a_mistake(self, graded):
        if not MISTAKES.get(self.aid):
            pytest.skip(f"{self.aid} has no mistake catalogue yet (see the catalogue test)")
        first = "mistake_" + next(iter(MISTAKES[self.aid])).replace("-", "_")
        assert graded.score["tamper_edit_mistake"] == graded.score[first] < POINTS

    @pytest.mark.grading
    def test_each_mistake_loses_points_and_is_named(self, graded):
        report = []
        for name, (_, _, phrase) in MISTAKES.get(self.aid, {}).items():
            student = "mistake_" + name.replace("-", "_")
            score, text = graded.score[student], graded.text[student]
            if score >= POINTS or phrase not in text:
                report.append(f"{name}: score {score}, phrase {phrase!r} found: {phrase in text}\n{text[-1500:]}")
        assert not report, "\n\n".join(report)


    @pytest.mark.grading
    def test_wrong_answers_get_no_unfitting_diagnosis(self, graded):
        for name, (_, _, phrase) in MISDIAGNOSED.get(self.aid, {}).items():
            student = "misdiagnosed_" + name.replace("-", "_")
            assert graded.score[student] < POINTS, name
            assert phrase not in graded.text[student], f"{name}: {graded.text[student][-1500:]}"

    @pytest.mark.grading
    def test_accepted_variants_keep_full_marks(self, graded):
        for name in ACCEPTED.get(self.aid, {}):
            student = "accepted_" + name.replace("-", "_")
            assert graded.score[student] == POINTS, f"{name}: {graded.text[student][-1500:]}"


def _class_name(aid: str) -> str:
    """``ex03-l1-vs-l2`` → ``TestEx03L1VsL2`` (``-k Ex03`` selects one assignment)."""
    return "Test" + "".join(part.capitalize() for part in aid.split("-"))


# --------------------------------------------------------------------------------------------
# facts that exercise 5's feedback and closing text state about kfold_ridge_cv (static, < 1 s)


def _ex05_functions(old: str = "", new: str = "") -> dict:
    """ridge_closed_form and kfold_ridge_cv from the instructor's source (optionally with a mistake)."""
    code = "\n".join(
        strip_markers(src(c))
        for c in read_nb(REPO / "solutions" / "ex05-implementation" / "ex05-implementation.ipynb")["cells"]
        if nbg(c).get("grade_id") in ("ridge_closed_form", "kfold_ridge_cv")
    )
    namespace: dict = {"np": __import__("numpy")}
    exec(code.replace(old, new) if old else code, namespace)  # noqa: S102 - the course's own source
    return namespace


def test_ex05_kfold_feedback_matches_scikit_learn():
    """The array_split diagnosis also fits KFold(shuffle=False), and alpha = n_fit * lam reproduces
    kfold_ridge_cv with scikit-learn (the closing text's "with alpha = n·λ")."""
    import numpy as np
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold, PredefinedSplit, cross_val_score

    n, k = 10, 3
    kfold_folds = [val for _, val in KFold(n_splits=k).split(np.zeros((n, 1)))]
    split_folds = np.array_split(np.arange(n), k)
    assert [len(f) for f in kfold_folds] == [4, 3, 3]
    assert all(np.array_equal(a, b) for a, b in zip(kfold_folds, split_folds))

    rng = np.random.default_rng(0)
    X, y, lams = rng.normal(size=(n, 2)), rng.normal(size=n), [0.01, 0.1, 1.0]
    old, new, _ = MISTAKES["ex05-implementation"]["folds-by-kfold"]
    by_kfold = _ex05_functions(old, new)["kfold_ridge_cv"](X, y, lams, k)[1]
    old, new, _ = MISTAKES["ex05-implementation"]["folds-by-array-split"]
    by_split = _ex05_functions(old, new)["kfold_ridge_cv"](X, y, lams, k)[1]
    assert np.allclose(by_kfold, by_split)

    mean_val_mse = _ex05_functions()["kfold_ridge_cv"](X, y, lams, k)[1]
    fold_of_row = np.repeat(np.arange(k), np.diff([i * n // k for i in range(k + 1)]))
    for lam, mse in zip(lams, mean_val_mse):
        scores = [
            -cross_val_score(Ridge(alpha=(n - np.sum(fold_of_row == i)) * lam), X, y,
                             cv=PredefinedSplit(np.where(fold_of_row == i, 0, -1)),
                             scoring="neg_mean_squared_error")[0]
            for i in range(k)
        ]
        assert np.isclose(mse, np.mean(scores), rtol=1e-10)


# One test class per assignment found in solutions/, so ``--dist loadscope`` grades each
# assignment once, on one worker (a parametrised class would put them all on one worker).
for _aid in ASSIGNMENTS:
    globals()[_class_name(_aid)] = type(_class_name(_aid), (_Assignment,), {"aid": _aid})
