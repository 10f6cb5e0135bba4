# Back up one VPS now, then restore that fresh backup onto another VPS, in a single apply.
#
# DESTRUCTIVE: the restore stops the target VPS and replaces its whole disk with the new backup of
# the source. Nothing orders the two steps but the references below: the restore reads the
# backup's id, so Terraform creates the backup (and waits for it) before it starts the restore.
# Because that id is only known during apply, the restore's checks (gate, source, backup size)
# run at apply, just before the restore is sent, instead of at plan.

terraform {
  required_providers {
    hostup = {
      source = "hostup/hostup"
    }
  }
}

# The API key and endpoint come from HOSTUP_API_KEY and HOSTUP_ENDPOINT.
provider "hostup" {}

variable "source_vps_id" {
  description = "ID of the VPS to back up (vps_...); it keeps running and is only read."
  type        = string
}

variable "target_vps_id" {
  description = "ID of the VPS whose disk is replaced with the new backup (vps_...)."
  type        = string
}

variable "target_vps_name" {
  description = "The target's current name: the restore is refused if it differs."
  type        = string
}

resource "hostup_vps_backup" "source" {
  vps_id = var.source_vps_id
  note   = "Copied to ${var.target_vps_name} by Terraform"

  timeouts {
    create = "60m"
  }
}

resource "hostup_vps_restore" "target" {
  target_vps_id = var.target_vps_id
  # Both values come from the backup resource: this is what makes the restore wait for it.
  source_vps_id       = hostup_vps_backup.source.vps_id
  backup_id           = hostup_vps_backup.source.id
  confirm_target_name = var.target_vps_name

  timeouts {
    create = "60m"
  }
}

output "backup" {
  value = {
    id         = hostup_vps_backup.source.id
    created_at = hostup_vps_backup.source.created_at
    size_gb    = hostup_vps_backup.source.size_gb
  }
}

output "restore" {
  value = {
    job_id = hostup_vps_restore.target.job_id
    status = hostup_vps_restore.target.status
    target = "${hostup_vps_restore.target.target_name} (${hostup_vps_restore.target.target_vps_id})"
  }
}
