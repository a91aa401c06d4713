from helpers import slug


def title(text):
    return slug(text).replace("-", " ").title()


def unused(text):  # not tested
    words = text.split()
    return len(words)
