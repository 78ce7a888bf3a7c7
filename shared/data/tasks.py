"""The built-in tasks: what each one predicts and its default problem spec."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from shared.core.catalog import BUILTIN_DATA_DIR
from shared.core.problem import OVERRIDE, ProblemSpec, dataset_default
from shared.data.public_data import PUBLIC_DATASETS


@dataclass(frozen=True)
class Task:
    """A task the workflow knows: its default spec and the data set it ships with.

    Its stage-7 batches are catalog entries (``new_batch``, ``drifted_batch``).
    ``builtin_extra`` names further built-in files, each a data set of its own
    (``builtin-recent``): the default run reads ``builtin_dataset`` alone, so its
    results do not change when a file is added; a mix asks for them by name.
    """

    name: str
    spec: ProblemSpec
    builtin_dataset: Path
    builtin_extra: dict[str, Path] = field(default_factory=dict)


#: the reasons for the release, gate and monitoring limits both tasks share
SHARED_NOTES = (
    "Stage 5's gate also needs each kind of behavioural test (data/builtin/<task>/"
    "behaviour.csv: MFT, INV, DIR) to pass at least min_behaviour_pass_rate (75%) of its "
    "cases, every case of the protected capabilities (protected_capabilities: 'name', texts "
    "that differ only in a person's name; for sentiment also 'gender') to pass, and every slice of at least "
    "min_slice_texts (30) texts of both labels (length band, source, the MFT and INV cases) "
    "to reach the target minus slice_margin (0.15): a slice of 60 texts has a standard error "
    "of about 0.06 on its own, so a narrower margin would fail good models on noise. A "
    "smaller slice is judged too, by the 95% Wilson interval of its primary metric: it fails "
    "when even the interval's upper end is under the target minus slice_margin, the evidence "
    "that a slice is bad which a handful of texts can give (F1 as the share 2TP/(2TP+FP+FN)).",
    "Stage 5's gate judges the interval as well as the point: the low end of the primary "
    "metric's 95% bootstrap interval must reach the target minus interval_margin, a margin "
    "stated per data set as about the interval's half-width at the target on its test split, "
    "so that a small test split cannot pass on luck.",
    "Stage 6 re-scores the live model on the candidate's test split (without the texts the "
    "live model was trained on) and refuses the candidate unless a paired bootstrap of the "
    "primary metric on those texts (1,000 resamples, seeded) says with regression_confidence "
    "(95%, one-sided) that it is at most max_metric_regression (0.02) below the live model; "
    "once a retrain has kept a frozen test set, on that set too. -p allow_failed_gate True "
    "overrides it and the gate, and the manifest and model card say so.",
    "A retrain (python -m shared retrain) adds labelled feedback to the training data only "
    "from callers with an API key, and at most max_feedback_share (20%) of the training "
    "split: enough to teach new phrasing, too little for one sender to outweigh the curated "
    "data.",
    "Stage 6's canary refuses a model whose predict_proba takes more than max_text_ms (50) "
    "ms for one text, or whose model file is over max_model_mb (200) MB: the service's "
    "latency aim is a p99 of 50 ms, which a model slower than that alone can never meet, "
    "and every service and Dask worker holds a copy of the model.",
    "Monitoring also alerts when any score is NaN or outside [0, 1] (max_invalid_scores 0), "
    "when the p95 latency per text exceeds max_latency_ratio (3) times the p95 the canary "
    "measured at deployment with one text a call (batches are faster per text), when the "
    "model is older than max_model_age_days (90), and when the live primary metric falls "
    "under the low end of stage 5's 95% interval.",
)

SENTIMENT = Task(
    name="sentiment",
    spec=ProblemSpec(
        task="sentiment",
        description=(
            "Tell whether a customer review (products, films, restaurants) is positive "
            "or negative, so that negative reviews reach the support team first."
        ),
        labels=("negative", "positive"),
        positive_label="positive",
        primary_metric="f1",
        target=0.70,
        decision_rule="fixed",
        decision_threshold=0.5,
        confidence_threshold=0.6,
        max_low_confidence_share=0.45,
        max_unknown_word_share=0.3,
        name_blinding="list_and_capitalised",
        gender_augmentation=True,
        protected_capabilities=("name", "gender"),
        feature_groups=("char", "lexicon", "embedding"),
        interval_margin=0.10,
        notes=(
            "interval_margin 0.10: on the 192 reviews of the built-in test split, a model "
            "whose F1 just meets the target (0.70) has the low end of its 95% interval near "
            "0.60 (bootstrap 0.62, Wilson 0.60; the default model: 0.763, bootstrap "
            "0.691-0.824, Wilson low end 0.669), so the low end must reach 0.60. Fewer test "
            "texts, or a model whose F1 swings more, fail.",
            "A review's verdict does not depend on who wrote it or whom it mentions. Before "
            "any featurizer, person first names become one token (name_blinding): those of "
            "Faker's name lists (minus names that are English words, such as 'will' or "
            "'grace'), and capitalised words that the training texts never held in lower "
            "case ('Oluwaseun'). Stage 5 checks it with names held out of the list: no "
            "template may change its label with the name alone (max_name_flips 0), and "
            "P(positive) may spread by at most max_name_spread (0.02) on average.",
            "Gendered words carry meaning, so they are not blinded: instead every training "
            "text with one also appears gender-swapped (gender_augmentation, Lu et al. 2018), "
            "so 'wife' cannot learn a weight that 'husband' lacks. Gender is a protected "
            "capability (protected_capabilities): every gender case of the behavioural tests "
            "must pass, and stage 5's gender check, which also swaps ten pairs held out of "
            "the augmentation ('landlord', 'landlady'), may flip no label (max_name_flips) "
            "and spread P(positive) by at most max_gender_spread (0.05) on average. That is "
            "looser than names' 0.02: names are blinded, gendered words keep their meaning and "
            "some weight (mean spreads 0.008 to 0.029 in runs on four data sets and two "
            "feature sets).",
            "Both errors cost about the same, so F1 on the positive class with a 0.5 "
            "threshold is the headline metric.",
            "The target of 0.70 comes from the learning curve of bag-of-words models on the "
            "960 hand-written built-in reviews, a fifth of them hard cases (negation, sarcasm, "
            "mixed feelings): cross-validated F1 is about 0.74 there. On larger real data "
            "(rt-polarity) raise it with -p target.",
            "A prediction whose confidence is under confidence_threshold is flagged for "
            "a person to read. About a third of test-split predictions are flagged (a small "
            "training set gives a modest model), so the alert fires only above 45%.",
            "When more than 30% of the words of a batch are unknown to the model (about 13% "
            "on the test split), the texts come from elsewhere: that raises an alert too.",
            "Stage 4 searches three feature groups beside the word n-grams (feature_groups): "
            "character n-grams; VADER's sentiment lexicon, whose scores turn a word's "
            "polarity after a negation ('not good'), which a bag of words cannot; and the "
            "sentence vectors of a frozen pretrained encoder (all-MiniLM-L6-v2), which knows "
            "words the training texts never held. The encoder costs 4-20 ms a text, so "
            "it is searched on training sets of at most 5,000 texts.",
            "Drift rules, each against the test-split reference, for windows of 40 or more "
            "predictions: PSI of the confidence distribution above max_confidence_psi (0.25, "
            "the usual mark of a large shift); a Kolmogorov-Smirnov test of confidence or of "
            "text length with a p-value under min_ks_pvalue (0.01); a predicted-label share "
            "further than max_label_shift (0.2) from the training prior (0.5 here).",
            "A domain classifier is trained to tell the window's texts from the test split's: "
            "ROC-AUC 0.5 means they cannot be told apart. In-domain batches score about 0.5, "
            "texts from support forums and logs above 0.9, so max_domain_auc is 0.75.",
            "Once at least min_live_feedback (20) predictions of a window have their true "
            "label back, an alert fires when the live F1 on them falls under the target.",
            *SHARED_NOTES,
        ),
    ),
    builtin_dataset=BUILTIN_DATA_DIR / "sentiment" / "reviews.csv",
)

SPAM = Task(
    name="spam",
    spec=ProblemSpec(
        task="spam",
        description=(
            "Flag SMS and e-mail messages that are spam, catching as much spam as "
            "possible without blocking legitimate messages."
        ),
        labels=("ham", "spam"),
        positive_label="spam",
        primary_metric="recall",
        target=0.80,
        decision_rule="max_recall_at_ham_blocked",
        decision_threshold=0.5,
        max_false_positive_rate=0.03,
        threshold_confidence=0.95,
        confidence_threshold=0.6,
        max_low_confidence_share=0.35,
        name_blinding="list_and_unseen",
        placeholders="keep",
        feature_groups=("char", "shape"),
        interval_margin=0.20,
        notes=(
            "interval_margin 0.20: the built-in test split holds 28 spam messages; the "
            "least recall that meets the target, 23 of 28 (0.82), has the low end of its 95% "
            "interval at about 0.64 (Wilson 0.644, the bootstrap 0.63-0.67 as resamples "
            "fall), so the low end must reach 0.60. Fewer held-out spam fail: 5 of 5 caught "
            "has a Wilson low end of 0.57. (The sms-spam data set, about 180 held-out spam, "
            "brings its own 0.07.)",
            "Spam disguises itself, so the text path normalises before any featurizer "
            "(text_normalisation): lookalike letters from other scripts become Latin, URLs, "
            "e-mail addresses, phone numbers, short codes, money and percentages get typed "
            "placeholders ('a link', not a domain seen once), and 'FR3E' or 'V-e-r-i-f-y' "
            "are read as words. Names from the list are blinded, and so are words written like "
            "a name ('Chidi': one capital, then lower case) that the training messages never "
            "held and that are no English words (name_blinding 'list_and_unseen'): a rule "
            "that blinded every capitalised word the training never held in lower case would "
            "also blind cues such as 'PayPal', 'HMRC' or 'FREE', which stay. Without it, the "
            "character n-grams of a name the list does not hold move P(spam) by 0.05 on "
            "average in stage 5's name check.",
            "Each placeholder keeps what it stands for after it (placeholders 'keep': 'xxurl "
            "parcel-fee.example/gb7'): the words inside a link stay readable, and a link, "
            "number or amount in a ham message is not reduced to one token that only spam "
            "taught.",
            "Recall on spam (spam caught) is the headline metric; blocking a legitimate "
            "message costs more than letting one spam through, so the share of ham "
            "blocked must stay under max_false_positive_rate.",
            "The decision threshold is chosen on validation (out-of-fold) predictions "
            "to meet that limit, never on the test split, and with 95% confidence "
            "(threshold_confidence): the share of ham it blocks is measured on a few thousand "
            "ham at most, so a threshold where that share just meets the limit blocks more "
            "than the limit on new messages about half the time. It blocks at most as many "
            "validation ham as keep a one-sided Clopper-Pearson bound within the limit (of "
            "3,772 ham at 0.5%: 11, not 18).",
            "The built-in set holds 200 ham messages, so the test split has 40: one blocked "
            "ham message is 2.5%. A limit under that would demand zero mistakes, so the "
            "built-in limit is 3%; the 5,574-message sms-spam set brings its own default of "
            "0.5%.",
            "Stage 4 searches two feature groups beside the word n-grams (feature_groups): "
            "character n-grams, and the message's shape (length, capitals, digits, a link), "
            "read before any normalisation.",
            "Monitoring: an alert fires when more than 35% of a batch is under the confidence "
            "threshold, or more than 30% of its words are unknown to the model (about 15% on "
            "new SMS and e-mail, nearly 40% on notifications and chat from elsewhere).",
            "Drift rules, each against the test-split reference, for windows of 40 or more "
            "predictions: PSI of the confidence distribution above max_confidence_psi (0.25); "
            "a Kolmogorov-Smirnov test of confidence or of text length with a p-value under "
            "min_ks_pvalue (0.01); a predicted spam share further than max_label_shift (0.2) "
            "from the training prior (about 41% spam).",
            "A domain classifier is trained to tell the window's texts from the test split's: "
            "ROC-AUC 0.5 means they cannot be told apart. New SMS and e-mail score under 0.5, "
            "verification codes, calendar and build notifications about 0.85, so "
            "max_domain_auc is 0.75.",
            "Once at least min_live_feedback (20) predictions of a window have their true "
            "label back, an alert fires when the live recall (spam caught) falls under the "
            "target, or the live share of ham blocked rises over max_false_positive_rate.",
            *SHARED_NOTES,
        ),
    ),
    builtin_dataset=BUILTIN_DATA_DIR / "spam" / "messages.csv",
    builtin_extra={"builtin-recent": BUILTIN_DATA_DIR / "spam" / "recent.csv"},
)

TASKS: dict[str, Task] = {task.name: task for task in (SENTIMENT, SPAM)}


class UnknownTaskError(ValueError):
    pass


def get_task(name: str) -> Task:
    """The task called ``name``; the error lists the valid names."""
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownTaskError(
            f"unknown task {name!r}; choose one of: {', '.join(sorted(TASKS))}"
        ) from None


def default_spec(task: str, dataset: str = "builtin") -> tuple[ProblemSpec, dict[str, str]]:
    """Stage 1's starting point: the task's spec with the data set's own defaults applied.

    Returns the spec and, for every field, where its value came from ("task
    default" or "data set <name> default"). Only the public data sets carry
    defaults of their own; the built-in sets and a user's file use the task's.
    In a mix (``sms-spam+builtin``), the defaults of every public set in it apply.
    """
    from shared.data.sources import public_names  # sources imports this module

    spec = get_task(task).spec
    own: dict[str, Any] = {}
    notes: list[str] = []
    value_sources: dict[str, str] = {}
    for name in public_names(dataset):
        public = PUBLIC_DATASETS[name]
        if public.task != task:
            continue
        own.update(public.spec_defaults)
        notes.extend(public.spec_notes)
        value_sources.update(dict.fromkeys(public.spec_defaults, dataset_default(name)))
    if own:
        spec = replace(spec.with_overrides(**own), notes=(*spec.notes, *notes),
                       value_sources=value_sources)
    return spec, {f.name: spec.source_of(f.name) for f in fields(spec)
                  if f.name not in ("notes", "value_sources")}


def run_spec(
    task: str, dataset: str = "builtin", **overrides: Any
) -> tuple[ProblemSpec, dict[str, str]]:
    """The spec stage 1 writes: :func:`default_spec` with the run's ``-p`` overrides.

    ``None`` leaves a value alone (the notebook's parameters default to None);
    an override that changes a value is recorded as "override -p" in the spec's
    ``value_sources``, so the manifest and the model card can show it.
    """
    spec, sources = default_spec(task, dataset)
    if isinstance(overrides.get("feature_groups"), str):  # "-p feature_groups char,lexicon"
        overrides["feature_groups"] = tuple(
            g.strip() for g in overrides["feature_groups"].split(",") if g.strip())
    changed = {name: value for name, value in overrides.items()
               if value is not None and value != getattr(spec, name, object())}
    result = spec.with_overrides(**overrides)
    result = replace(result, value_sources={**spec.value_sources,
                                            **dict.fromkeys(changed, OVERRIDE)})
    sources.update(dict.fromkeys(changed, OVERRIDE))
    return result, sources
