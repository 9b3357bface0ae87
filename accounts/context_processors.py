from .preferences import large_text_for


def display_preferences(request):
    """`large_text`: base.html puts class="large-text" on <html> and shows the switch pressed."""
    return {"large_text": large_text_for(request)}
