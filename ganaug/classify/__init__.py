"""Image classifiers: the teacher that labels synthetic images and the downstream models `compare` trains."""

from ganaug.classify.models import CLASSIFIERS, ClassifierSpec, create_classifier
from ganaug.classify.train import TensorSet, TrainResult, TrainSettings, accuracy, train_classifier

__all__ = ["CLASSIFIERS", "ClassifierSpec", "TensorSet", "TrainResult", "TrainSettings", "accuracy",
           "create_classifier", "train_classifier"]
