def slug(text):
    return "-".join(text.lower().split())


def unslug(text):  # not tested
    return text.replace("-", " ")
