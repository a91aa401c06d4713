import pytest

from shop.models import Item


@pytest.mark.django_db
def test_saved_item_has_tax():
    item = Item.objects.create(name="pen", price=100)
    assert Item.objects.get(pk=item.pk).with_tax() == 120


def test_tax_rate():
    assert Item(name="cup", price=50).with_tax(10) == 55
