from django.db import models


class Note(models.Model):
    title = models.CharField(max_length=100)
    done = models.BooleanField(default=False)

    def label(self):
        return f"[x] {self.title}" if self.done else f"[ ] {self.title}"

    def archive(self):  # not tested
        self.done = True
        self.save()
        return self
