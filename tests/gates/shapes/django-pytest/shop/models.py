from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=50)
    price = models.IntegerField()

    def with_tax(self, rate=20):
        return self.price * (100 + rate) // 100

    def discounted(self, percent):  # not tested
        if percent > 50:
            raise ValueError("too much")
        return self.price * (100 - percent) // 100
