"""What the apps' admins share."""


class ReadOnlyAdmin:
    """For a ModelAdmin of rows the desk writes itself (a rollup, an embedding index, a
    content gap): staff read them, and nobody adds, edits or deletes one by hand."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
