import six
import yaml


def load(text):
    return yaml.safe_load(text)


def kind(value):
    if isinstance(value, six.string_types):
        return "text"
    if isinstance(value, dict):
        return "mapping"
    return "other"  # not tested
