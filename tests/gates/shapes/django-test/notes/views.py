from django.http import JsonResponse

from notes.models import Note


def note_list(request):
    return JsonResponse({"notes": [note.label() for note in Note.objects.order_by("id")]})


def untested_view(request):
    count = Note.objects.count()
    return JsonResponse({"count": count})
